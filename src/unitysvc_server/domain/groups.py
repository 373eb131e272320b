"""The groups surface: platform groups and customer collections in one list (CONTRACT §1.7).

Platform groups come from the catalog (read-only, ``owner_type="platform"``);
collections from the database (``owner_type="customer"``, editable).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Literal

from unitysvc.models import (
    AccessInterface,
    CursorPageServiceSummary,
    CustomerGroupDetail,
    CustomerGroupListResponse,
    CustomerGroupView,
    ServiceCollectionMemberPublic,
    ServiceSummary,
)
from unitysvc_server.catalog.groups import ALL_SERVICES
from unitysvc_server.catalog.model import Catalog, CatalogGroup, CatalogService, stable_id, thaw
from unitysvc_server.domain import collections
from unitysvc_server.domain.customers import Customer
from unitysvc_server.domain.errors import BadRequest, NotFound, Unauthorized
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.collections import CollectionRow

Owner = Literal["all", "system", "own"]
GATEWAY_TYPE = "api"


def _try_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def visible_platform_groups(catalog: Catalog) -> list[CatalogGroup]:
    """Platform groups customers see: active and non-empty (``all_services`` always)."""
    return [
        g
        for g in catalog.groups
        if g.is_visible and (g.name == ALL_SERVICES or catalog.group_services(g))
    ]


def _platform_group(catalog: Catalog, name: str) -> CatalogGroup | None:
    group = catalog.group(name)
    if group is None or group not in visible_platform_groups(catalog):
        return None
    return group


def group_interface(group: CatalogGroup, catalog: Catalog) -> AccessInterface | None:
    """The group's interface with its gateway URL rendered, or None."""
    if group.interface is None:
        return None
    return AccessInterface(
        name=group.interface.name,
        description=group.interface.description,
        access_method=group.interface.access_method,
        base_url=catalog.render_url(group.interface.base_url),
        group_name=group.name,
    )


def _platform_view(group: CatalogGroup, catalog: Catalog) -> CustomerGroupView:
    listed = catalog.group_services(group)
    return CustomerGroupView(
        id=group.id,
        name=group.name,
        display_name=group.display_name,
        owner_type="platform",
        editable=False,
        member_count=len(listed),
        details=None,
        group_type=group.group_type,
        is_default=False,
        service_ids=[s.id for s in listed],
        owner_id=None,
    )


def collection_view(row: CollectionRow, catalog: Catalog) -> CustomerGroupView:
    return CustomerGroupView(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        owner_type="customer",
        editable=True,
        member_count=len(row.members),
        details=None,
        group_type=collections.collection_group_type(row, catalog),
        is_default=row.is_default,
        service_ids=[m.service_id for m in row.members],
        owner_id=None if row.shared else row.customer_id,
    )


async def list_groups(
    session: Session,
    catalog: Catalog,
    customer: Customer | None,
    *,
    owner: Owner,
    shared: bool,
    name: str | None,
) -> CustomerGroupListResponse:
    """Platform groups (by ``sort_order``, name), then the caller's collections (by name).

    Raises:
        Unauthorized: ``owner=own`` without credentials.
    """
    if customer is None and owner == "own":
        raise Unauthorized("owner=own lists your collections; send your API key")
    views: list[CustomerGroupView] = []
    if owner in ("all", "system") and not shared:
        views.extend(_platform_view(g, catalog) for g in visible_platform_groups(catalog))
    if owner in ("all", "own") and customer is not None:
        rows = await collections.list_collections(session, customer.id, shared_only=shared)
        views.extend(collection_view(r, catalog) for r in rows)
    if name:
        needle = name.lower()
        views = [
            v for v in views if needle in v.name.lower() or needle in (v.display_name or "").lower()
        ]
    return CustomerGroupListResponse(data=views, count=len(views))


async def get_group(
    session: Session, catalog: Catalog, customer: Customer | None, name: str
) -> CustomerGroupDetail:
    """One group: the caller's collection (by UUID) or a visible platform group.

    Raises:
        NotFound: Neither.
    """
    group_id = _try_uuid(name)
    if group_id is not None and customer is not None:
        row = await collections.find_collection(session, customer.id, group_id)
        if row is not None:
            return CustomerGroupDetail(
                id=row.id,
                name=row.name,
                display_name=row.display_name,
                description=row.description,
                owner_type="customer",
                editable=True,
                member_count=len(row.members),
                details=None,
                group_type=collections.collection_group_type(row, catalog),
                interface=None,
                routing_policy=None,
                enabled=row.enabled,
            )
    group = _platform_group(catalog, name)
    if group is None:
        raise NotFound(f"group {name!r} not found")
    return CustomerGroupDetail(
        id=group.id,
        name=group.name,
        display_name=group.display_name,
        description=group.description,
        owner_type="platform",
        editable=False,
        member_count=len(catalog.group_services(group)),
        details=None,
        group_type=group.group_type,
        interface=group_interface(group, catalog),
        routing_policy=thaw(group.routing_policy) if group.routing_policy else None,
        enabled=None,
    )


async def members(
    session: Session, catalog: Catalog, customer_id: uuid.UUID, group_id: uuid.UUID
) -> list[ServiceCollectionMemberPublic]:
    """Members of the caller's collection, or (read-only) of a visible platform group.

    Raises:
        NotFound: Neither.
    """
    group = catalog.group(group_id)
    if group is not None and group in visible_platform_groups(catalog):
        listed = {s.id for s in catalog.group_services(group)}
        return [
            ServiceCollectionMemberPublic(
                id=stable_id("member", f"{group.name}:{m.service_id}"),
                service_id=m.service_id,
                routing_key=thaw(m.routing_key) if m.routing_key else None,
                sort_order=index,
            )
            for index, m in enumerate(group.members)
            if m.service_id in listed
        ]
    row = await collections.find_collection(session, customer_id, group_id)
    if row is None:
        raise NotFound(f"group {group_id} not found")
    return [collections.member_public(m) for m in row.members]


# -- group services (keyset pagination) ----------------------------------------------------


def _encode_cursor(service: CatalogService) -> str:
    raw = json.dumps([service.created_at.isoformat(), str(service.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, sid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, uuid.UUID(sid)
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest(
            "cursor: not a cursor this server issued; pass next_cursor back unchanged, "
            "or omit it for the first page"
        ) from None


def _members_of(
    catalog: Catalog, group: CatalogGroup | None, row: CollectionRow | None
) -> list[CatalogService]:
    if group is not None:
        return catalog.group_services(group)
    assert row is not None
    found = (catalog.service(m.service_id) for m in row.members)
    return [s for s in found if s is not None and s.is_listed]


async def group_services(
    session: Session,
    catalog: Catalog,
    customer: Customer | None,
    name: str,
    *,
    cursor: str | None,
    limit: int,
    search: str | None,
) -> CursorPageServiceSummary:
    """A page of a group's active, public services, newest first.

    The group is a visible platform group (by name or id) or, for an
    authenticated caller, one of their collections by id.

    Raises:
        NotFound: Unknown group.
        BadRequest: A cursor this server did not issue.
    """
    group = _platform_group(catalog, name)
    row: CollectionRow | None = None
    if group is None:
        group_id = _try_uuid(name)
        if customer is not None and group_id is not None:
            row = await collections.find_collection(session, customer.id, group_id)
        if row is None:
            raise NotFound(f"group {name!r} not found")
    services = _members_of(catalog, group, row)
    if search:
        needle = search.lower()
        services = [
            s
            for s in services
            if needle in s.name.lower()
            or needle in (s.display_name or "").lower()
            or needle in s.provider_name.lower()
        ]
    services.sort(key=lambda s: (s.created_at, s.id), reverse=True)
    if cursor:
        after = _decode_cursor(cursor)
        services = [s for s in services if (s.created_at, s.id) < after]
    page = services[:limit]
    has_more = len(services) > limit
    return CursorPageServiceSummary(
        data=[
            ServiceSummary(
                id=s.id,
                name=s.name,
                display_name=s.display_name,
                service_type=s.service_type,
                gateway_type=GATEWAY_TYPE,
            )
            for s in page
        ],
        next_cursor=_encode_cursor(page[-1]) if has_more and page else None,
        has_more=has_more,
    )

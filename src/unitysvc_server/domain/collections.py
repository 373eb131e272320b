"""Customer collections: groups a customer builds from catalog services (CONTRACT §1.7 Groups).

Collections are managed by UUID (``PATCH/DELETE /groups/{id}``, members) and
dispatched by name (``g/<name>``), where they route by the request's ``model``
routing key: a member's ``routing_key`` override (``{"model": "fast"}``), else
the service's own key. A key matching no member is refused with the list of
keys that would work.

A collection holds at most :data:`MAX_MEMBERS` services, each of which the
customer must be able to dispatch (no enrollment needed, or an active one).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from unitysvc.models import (
    CustomerGroupMembershipEntry,
    CustomerGroupMembershipResponse,
    CustomerGroupMembershipUpdate,
    ServiceCollectionCreate,
    ServiceCollectionMemberCreate,
    ServiceCollectionMemberPublic,
    ServiceCollectionPublic,
    ServiceCollectionUpdate,
)
from unitysvc_server.catalog.groups import derive_group_type
from unitysvc_server.catalog.model import (
    Catalog,
    CatalogGroup,
    CatalogService,
    GroupMember,
    GroupType,
    freeze,
)
from unitysvc_server.domain.enrollments import dispatchability
from unitysvc_server.domain.errors import Conflict, Forbidden, NotFound, Unprocessable
from unitysvc_server.domain.patch import PatchField, apply_patch
from unitysvc_server.domain.routing_objects import SLUG, validate_sort_order
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.queries import collections as queries
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.collections import CollectionMemberRow, CollectionRow

MAX_MEMBERS = 20
#: Widths of the free-text columns.
MAX_DISPLAY_NAME = 200
MAX_DESCRIPTION = 2000
FAVORITES_NAME = "favorites"
FAVORITES_DISPLAY = "Favorites"
#: Collections route by key: a request naming no member's key is refused.
COLLECTION_POLICY: Mapping[str, Any] = freeze(
    {"name": "weighted_random", "content_dependent": True, "parameters": {"key_required": True}}
)


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid collection slug, else raise a 422."""
    if not SLUG.fullmatch(name):
        raise Unprocessable(
            ("body", "name"),
            "must be 1-100 characters of lowercase letters, digits, '-' and '_' "
            "(it becomes the gateway path g/<name>), e.g. 'my-models'",
        )
    return name


def _check_routing_key(key: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if key is None:
        return None
    if not key or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in key.items()
    ):
        raise Unprocessable(
            ("body", "routing_key"),
            'must map field names to scalar values, e.g. {"model": "fast-gpt"}',
        )
    return dict(key)


def _canonical(key: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(key or {}), sort_keys=True)


def member_public(row: CollectionMemberRow) -> ServiceCollectionMemberPublic:
    """The wire form of a member row."""
    return ServiceCollectionMemberPublic(
        id=row.id, service_id=row.service_id, routing_key=row.routing_key, sort_order=row.sort_order
    )


def collection_public(row: CollectionRow) -> ServiceCollectionPublic:
    """The wire form of a collection row."""
    return ServiceCollectionPublic(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        description=row.description,
        enabled=row.enabled,
        member_count=len(row.members),
    )


def collection_group_type(row: CollectionRow, catalog: Catalog) -> GroupType:
    """Routability of a collection: ``open``/``keyed`` from its members, else ``collection``."""
    services = [catalog.service(m.service_id) for m in row.members]
    listed = [s for s in services if s is not None and s.is_listed]
    if not row.enabled or not listed:
        return "collection"
    return derive_group_type(listed)


# -- reads ------------------------------------------------------------------------------


async def list_collections(
    session: Session, customer_id: uuid.UUID, *, shared_only: bool = False
) -> Sequence[CollectionRow]:
    """The customer's collections (personal and shared, or shared only), by name."""
    return await queries.for_customer(session, customer_id, shared_only=shared_only)


async def find_collection(
    session: Session, customer_id: uuid.UUID, collection_id: uuid.UUID
) -> CollectionRow | None:
    """The customer's collection ``collection_id``, or None."""
    return await queries.by_id(session, customer_id, collection_id)


async def get_collection(
    session: Session, catalog: Catalog, customer_id: uuid.UUID, group_id: uuid.UUID
) -> CollectionRow:
    """The customer's collection for a management call.

    Raises:
        Forbidden: ``group_id`` is a platform group (read-only).
        NotFound: Not one of the caller's collections.
    """
    if catalog.group(group_id) is not None:
        raise Forbidden(f"group {group_id} is a platform group and cannot be changed")
    row = await find_collection(session, customer_id, group_id)
    if row is None:
        raise NotFound(f"group {group_id} not found")
    return row


def as_group(row: CollectionRow, catalog: Catalog) -> CatalogGroup:
    """A collection viewed as a routing group (for the gateway and ``/v1/resolve``)."""
    return CatalogGroup(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        description=row.description,
        group_type=collection_group_type(row, catalog),
        routing_policy=COLLECTION_POLICY,
        interface=None,
        members=tuple(
            GroupMember(
                service_id=m.service_id,
                routing_key=freeze(m.routing_key) if m.routing_key else None,
            )
            for m in row.members
        ),
        status="active" if row.enabled else "draft",
        owner_type="customer",
    )


# -- writes -----------------------------------------------------------------------------------


async def _flush_or_conflict(session: Session, message: str) -> None:
    try:
        async with session.begin_nested():
            await queries.flush_unique(session)
    except Duplicate:
        raise Conflict(message) from None


def _text(value: str | None, field: str, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        raise Unprocessable(("body", field), f"must be at most {limit} characters")
    return value


async def create_collection(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    body: ServiceCollectionCreate,
    *,
    shared: bool,
) -> CollectionRow:
    """Create a collection.

    Raises:
        Unprocessable: Invalid name, or a text field longer than its column.
        Conflict: The name exists in the same scope or is a platform group's.
    """
    name = validate_name(body.name)
    if catalog.group(name) is not None:
        raise Conflict(f"{name!r} is the name of a platform group; choose another name")
    row = CollectionRow(
        customer_id=customer_id,
        shared=shared,
        name=name,
        display_name=_text(body.display_name, "display_name", MAX_DISPLAY_NAME),
        description=_text(body.description, "description", MAX_DESCRIPTION),
        members=[],
    )
    queries.add(session, row)
    scope = "shared" if shared else "personal"
    await _flush_or_conflict(session, f"a {scope} collection named {name!r} already exists")
    return row


def _limited(limit: int) -> Callable[[str, tuple[str, ...]], str]:
    def check(value: str, loc: tuple[str, ...]) -> str:
        if len(value) > limit:
            raise Unprocessable(loc, f"must be at most {limit} characters")
        return value

    return check


#: How ``PATCH /groups/{id}`` (a collection) applies each field.
_PATCH = {
    "display_name": PatchField(_limited(MAX_DISPLAY_NAME), nullable=True),
    "description": PatchField(_limited(MAX_DESCRIPTION), nullable=True),
    "enabled": PatchField(),
}


async def update_collection(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    group_id: uuid.UUID,
    body: ServiceCollectionUpdate,
) -> CollectionRow:
    """Change a collection's display name, description or enabled flag (fields sent only)."""
    row = await get_collection(session, catalog, customer_id, group_id)
    apply_patch(row, body, _PATCH)
    await queries.flush(session)
    return row


async def delete_collection(
    session: Session, catalog: Catalog, customer_id: uuid.UUID, group_id: uuid.UUID
) -> None:
    """Delete a collection and its members."""
    row = await get_collection(session, catalog, customer_id, group_id)
    await queries.delete(session, row)


async def _require_dispatchable(
    session: Session, catalog: Catalog, customer_id: uuid.UUID, service_id: uuid.UUID
) -> CatalogService:
    service = catalog.service(service_id)
    if service is None or not service.is_listed:
        raise NotFound(f"service {service_id} not found")
    verdict = await dispatchability(session, customer_id, service)
    if not verdict.allowed:
        raise Forbidden(verdict.reason)
    return service


def _add_member(
    row: CollectionRow, service_id: uuid.UUID, routing_key: dict[str, Any] | None, sort_order: int
) -> CollectionMemberRow:
    if any(m.service_id == service_id for m in row.members):
        raise Conflict(f"service {service_id} is already in collection {row.name!r}")
    if len(row.members) >= MAX_MEMBERS:
        raise Conflict(f"collection {row.name!r} is full ({MAX_MEMBERS} members); remove one first")
    if routing_key is not None and any(
        _canonical(m.routing_key) == _canonical(routing_key) for m in row.members
    ):
        raise Conflict(
            f"another member of {row.name!r} already routes {_canonical(routing_key)}; "
            "choose a different routing_key"
        )
    member = CollectionMemberRow(
        service_id=service_id, routing_key=routing_key, sort_order=sort_order
    )
    row.members.append(member)
    return member


async def add_member(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    group_id: uuid.UUID,
    body: ServiceCollectionMemberCreate,
) -> CollectionMemberRow:
    """Add a service the customer can dispatch to their collection.

    Raises:
        Forbidden: Platform group, or a service needing an enrollment the caller lacks.
        NotFound: Unknown collection or service.
        Conflict: Already a member, the collection is full, or the key is taken.
    """
    row = await get_collection(session, catalog, customer_id, group_id)
    await _require_dispatchable(session, catalog, customer_id, body.service_id)
    member = _add_member(
        row,
        body.service_id,
        _check_routing_key(body.routing_key),
        validate_sort_order(body.sort_order or 0, ("body", "sort_order")),
    )
    await _flush_or_conflict(session, f"service {body.service_id} is already in {row.name!r}")
    return member


async def remove_member(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    group_id: uuid.UUID,
    service_id: uuid.UUID,
) -> None:
    """Remove a service from the collection.

    Raises:
        NotFound: Unknown collection, or the service is not a member.
    """
    row = await get_collection(session, catalog, customer_id, group_id)
    member = next((m for m in row.members if m.service_id == service_id), None)
    if member is None:
        raise NotFound(f"service {service_id} is not a member of {row.name!r}")
    row.members.remove(member)
    await queries.flush(session)


# -- the "add to group" dropdown of a service ------------------------------------------------


async def membership(
    session: Session, customer_id: uuid.UUID, service: CatalogService
) -> CustomerGroupMembershipResponse:
    """The caller's collections flagged with whether ``service`` is in each, Favorites first."""
    rows = await list_collections(session, customer_id)
    verdict = await dispatchability(session, customer_id, service)
    return _membership_response(rows, service, eligible=verdict.allowed)


def _membership_response(
    rows: Sequence[CollectionRow], service: CatalogService, *, eligible: bool
) -> CustomerGroupMembershipResponse:
    favorites = next((r for r in rows if r.is_default), None)
    entries = [
        CustomerGroupMembershipEntry(
            id=favorites.id if favorites else None,
            name=FAVORITES_NAME,
            display_name=FAVORITES_DISPLAY,
            member=bool(favorites and any(m.service_id == service.id for m in favorites.members)),
            is_default=True,
        )
    ]
    entries.extend(
        CustomerGroupMembershipEntry(
            id=r.id,
            name=r.name,
            display_name=r.display_name,
            member=any(m.service_id == service.id for m in r.members),
            is_default=False,
        )
        for r in rows
        if not r.is_default
    )
    return CustomerGroupMembershipResponse(service_id=service.id, eligible=eligible, groups=entries)


async def _favorites(
    session: Session, customer_id: uuid.UUID, rows: Sequence[CollectionRow]
) -> CollectionRow:
    found = next((r for r in rows if r.is_default), None)
    if found is not None:
        return found
    existing = next((r for r in rows if r.name == FAVORITES_NAME and not r.shared), None)
    if existing is not None:
        existing.is_default = True
        return existing
    row = CollectionRow(
        customer_id=customer_id,
        shared=False,
        name=FAVORITES_NAME,
        display_name=FAVORITES_DISPLAY,
        is_default=True,
        members=[],
    )
    queries.add(session, row)
    return row


async def set_membership(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    service: CatalogService,
    body: CustomerGroupMembershipUpdate,
) -> CustomerGroupMembershipResponse:
    """Make ``service`` a member of exactly the listed collections (+ Favorites if asked).

    Raises:
        Forbidden: The caller cannot dispatch the service.
        NotFound: A listed id is not one of the caller's collections.
        Conflict: A target collection is full.
    """
    await _require_dispatchable(session, catalog, customer_id, service.id)
    rows = list(await list_collections(session, customer_id))
    by_id = {r.id: r for r in rows}
    wanted: set[uuid.UUID] = set()
    for index, group_id in enumerate(body.group_ids or []):
        if group_id not in by_id:
            raise Unprocessable(
                ("body", "group_ids", index), f"{group_id} is not one of your collections"
            )
        wanted.add(group_id)
    favorites: CollectionRow | None = None
    if body.include_default:
        favorites = await _favorites(session, customer_id, rows)
        if favorites not in rows:
            rows.append(favorites)
    for row in rows:
        keep = row.id in wanted or row is favorites
        has = next((m for m in row.members if m.service_id == service.id), None)
        if keep and has is None:
            _add_member(row, service.id, None, len(row.members))
        elif not keep and has is not None:
            row.members.remove(has)
    await queries.flush(session)
    # ``rows`` already holds the new state and the service was checked
    # dispatchable above: answer without querying both again.
    return _membership_response(rows, service, eligible=True)

"""``/v1/groups``: platform groups and the customer's collections on one surface."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from unitysvc.models import (
    CursorPageServiceSummary,
    CustomerGroupDetail,
    CustomerGroupListResponse,
    CustomerGroupView,
    ServiceCollectionCreate,
    ServiceCollectionMemberCreate,
    ServiceCollectionMemberPublic,
    ServiceCollectionPublic,
    ServiceCollectionUpdate,
)
from unitysvc_server.api.catalog_deps import CatalogDep
from unitysvc_server.api.deps import CustomerDep, OptionalCustomerDep, SessionDep
from unitysvc_server.domain import collections, groups

router = APIRouter(prefix="/groups", tags=["groups"])


@router.get("")
async def list_groups(
    session: SessionDep,
    catalog: CatalogDep,
    customer: OptionalCustomerDep,
    name: Annotated[str | None, Query(description="Filter by name (partial match)")] = None,
    owner: Annotated[
        str,
        Query(
            pattern="^(all|system|own)$",
            description="'all' (platform + own), 'system' (platform only), 'own' (collections)",
        ),
    ] = "all",
    shared: Annotated[
        bool, Query(description="When true, list shared team collections only.")
    ] = False,
) -> CustomerGroupListResponse:
    """Platform groups, then the caller's collections (anonymous: platform groups only)."""
    return await groups.list_groups(
        session,
        catalog,
        customer,
        owner=owner,  # type: ignore[arg-type]
        shared=shared,
        name=name,
    )


@router.post("", status_code=201)
async def create_group(
    body: ServiceCollectionCreate,
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
    shared: bool = False,
) -> CustomerGroupView:
    """Create a collection (409 when the name is taken in the same scope)."""
    row = await collections.create_collection(session, catalog, customer.id, body, shared=shared)
    return groups.collection_view(row, catalog)


@router.get("/{name}")
async def get_group(
    name: str, session: SessionDep, catalog: CatalogDep, customer: OptionalCustomerDep
) -> CustomerGroupDetail:
    """One group: the caller's collection by UUID, or a platform group by UUID or name."""
    return await groups.get_group(session, catalog, customer, name)


@router.patch("/{group_id}")
async def update_group(
    group_id: UUID,
    body: ServiceCollectionUpdate,
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
) -> ServiceCollectionPublic:
    """Change a collection (403 for platform groups)."""
    row = await collections.update_collection(session, catalog, customer.id, group_id, body)
    return collections.collection_public(row)


@router.delete("/{group_id}", status_code=204)
async def delete_group(
    group_id: UUID, session: SessionDep, catalog: CatalogDep, customer: CustomerDep
) -> Response:
    """Delete a collection and its members (403 for platform groups)."""
    await collections.delete_collection(session, catalog, customer.id, group_id)
    return Response(status_code=204)


@router.get("/{name}/services")
async def list_group_services(
    name: str,
    session: SessionDep,
    catalog: CatalogDep,
    customer: OptionalCustomerDep,
    cursor: Annotated[
        str | None, Query(description="Opaque cursor from a previous next_cursor.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    search: Annotated[
        str | None, Query(description="Substring of name, display_name or provider_name.")
    ] = None,
) -> CursorPageServiceSummary:
    """The group's active services, newest first, keyset-paginated."""
    return await groups.group_services(
        session, catalog, customer, name, cursor=cursor, limit=limit, search=search
    )


@router.get("/{group_id}/members")
async def list_members(
    group_id: UUID, session: SessionDep, catalog: CatalogDep, customer: CustomerDep
) -> list[ServiceCollectionMemberPublic]:
    """Members of a collection (or, read-only, of a platform group)."""
    return await groups.members(session, catalog, customer.id, group_id)


@router.post("/{group_id}/members", status_code=201)
async def add_member(
    group_id: UUID,
    body: ServiceCollectionMemberCreate,
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
) -> ServiceCollectionMemberPublic:
    """Add a service the caller can dispatch (max 20 members)."""
    row = await collections.add_member(session, catalog, customer.id, group_id, body)
    return collections.member_public(row)


@router.delete("/{group_id}/members/{service_id}", status_code=204)
async def remove_member(
    group_id: UUID,
    service_id: UUID,
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
) -> Response:
    """Remove a service from a collection."""
    await collections.remove_member(session, catalog, customer.id, group_id, service_id)
    return Response(status_code=204)

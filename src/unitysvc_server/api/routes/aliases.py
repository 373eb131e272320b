"""``/v1/aliases``: the customer's movable gateway names and their routing switch."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from unitysvc.models import (
    Message,
    ServiceAliasCreate,
    ServiceAliasesPublic,
    ServiceAliasPublic,
    ServiceAliasUpdate,
    SwitchRoutingResponse,
)
from unitysvc_server.api.deps import (
    CursorQuery,
    CustomerDep,
    LimitQuery,
    SessionDep,
    SkipQuery,
)
from unitysvc_server.domain import aliases

router = APIRouter(prefix="/aliases", tags=["aliases"])


@router.post("/", status_code=201)
async def create_alias(
    body: ServiceAliasCreate, session: SessionDep, customer: CustomerDep, shared: bool = False
) -> ServiceAliasPublic:
    """Create an alias (non-routing if a sibling already routes its routing key)."""
    row = await aliases.create_alias(session, customer.id, body, shared=shared)
    return aliases.alias_public(row)


@router.get("/")
async def list_aliases(
    session: SessionDep,
    customer: CustomerDep,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    name: str | None = None,
    include_deactivated: bool = False,
    shared: bool = False,
) -> ServiceAliasesPublic:
    """List the customer's aliases (deactivated ones only on request)."""
    return await aliases.list_aliases(
        session,
        customer.id,
        skip=skip,
        limit=limit,
        name=name,
        include_deactivated=include_deactivated,
        shared=shared,
        cursor=cursor,
    )


@router.get("/{alias_id}")
async def get_alias(
    alias_id: UUID, session: SessionDep, customer: CustomerDep
) -> ServiceAliasPublic:
    """One alias by id."""
    return aliases.alias_public(await aliases.get_alias(session, customer.id, alias_id))


@router.patch("/{alias_id}")
async def update_alias(
    alias_id: UUID, body: ServiceAliasUpdate, session: SessionDep, customer: CustomerDep
) -> ServiceAliasPublic:
    """Change an alias's description, routing key, target or override (not its name)."""
    row = await aliases.update_alias(session, customer.id, alias_id, body)
    return aliases.alias_public(row)


@router.delete("/{alias_id}")
async def delete_alias(alias_id: UUID, session: SessionDep, customer: CustomerDep) -> Any:
    """Deactivate an alias (soft delete; it stops routing)."""
    row = await aliases.deactivate_alias(session, customer.id, alias_id)
    return Message(message=f"alias {row.id} deactivated").model_dump()


@router.post("/{identifier}/switch")
async def switch_alias(
    identifier: str,
    session: SessionDep,
    customer: CustomerDep,
    on: bool = True,
    target: Annotated[
        str | None, Query(description="Substring of the target path (names only).")
    ] = None,
    routing_key: Annotated[
        str | None, Query(description="Substring of any routing-key value (names only).")
    ] = None,
) -> SwitchRoutingResponse:
    """Move routing to the alias row ``identifier`` selects, demoting its sibling atomically."""
    result = await aliases.switch_alias(
        session, customer.id, identifier, on=on, target=target, routing_key=routing_key
    )
    return SwitchRoutingResponse(
        alias=aliases.alias_public(result.alias), demoted_alias_id=result.demoted_alias_id
    )

"""``/v1/broadcasts``: the customer's fan-out definitions (``b/<name>``) and targets."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from unitysvc.models import (
    BroadcastCreate,
    BroadcastPublic,
    BroadcastsPublic,
    BroadcastTargetCreate,
    BroadcastTargetPublic,
    BroadcastUpdate,
    Message,
)
from unitysvc_server.api.deps import (
    CursorQuery,
    CustomerDep,
    LimitQuery,
    SessionDep,
    SkipQuery,
)
from unitysvc_server.domain import broadcasts

router = APIRouter(prefix="/broadcasts", tags=["broadcasts"])


@router.post("/", status_code=201)
async def create_broadcast(
    body: BroadcastCreate, session: SessionDep, customer: CustomerDep, shared: bool = False
) -> BroadcastPublic:
    """Create a broadcast with its targets."""
    row = await broadcasts.create_broadcast(session, customer.id, body, shared=shared)
    return broadcasts.broadcast_public(row)


@router.get("/")
async def list_broadcasts(
    session: SessionDep,
    customer: CustomerDep,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    shared: bool = False,
) -> BroadcastsPublic:
    """List the customer's broadcasts (``shared=true``: shared ones only)."""
    return await broadcasts.list_broadcasts(
        session, customer.id, skip=skip, limit=limit, shared=shared, cursor=cursor
    )


@router.get("/{broadcast_id}")
async def get_broadcast(
    broadcast_id: UUID, session: SessionDep, customer: CustomerDep
) -> BroadcastPublic:
    """One broadcast with its targets."""
    row = await broadcasts.get_broadcast(session, customer.id, broadcast_id)
    return broadcasts.broadcast_public(row)


@router.patch("/{broadcast_id}")
async def update_broadcast(
    broadcast_id: UUID, body: BroadcastUpdate, session: SessionDep, customer: CustomerDep
) -> BroadcastPublic:
    """Change a broadcast's description, mode, target timeout or enabled flag."""
    row = await broadcasts.update_broadcast(session, customer.id, broadcast_id, body)
    return broadcasts.broadcast_public(row)


@router.delete("/{broadcast_id}")
async def delete_broadcast(broadcast_id: UUID, session: SessionDep, customer: CustomerDep) -> Any:
    """Delete a broadcast and its targets."""
    await broadcasts.delete_broadcast(session, customer.id, broadcast_id)
    return Message(message=f"broadcast {broadcast_id} deleted").model_dump()


@router.put("/{broadcast_id}/targets")
async def replace_targets(
    broadcast_id: UUID,
    body: list[BroadcastTargetCreate],
    session: SessionDep,
    customer: CustomerDep,
) -> BroadcastPublic:
    """Replace every target of a broadcast."""
    row = await broadcasts.replace_targets(session, customer.id, broadcast_id, body)
    return broadcasts.broadcast_public(row)


@router.post("/{broadcast_id}/targets", status_code=201)
async def add_target(
    broadcast_id: UUID, body: BroadcastTargetCreate, session: SessionDep, customer: CustomerDep
) -> BroadcastTargetPublic:
    """Add one target to a broadcast."""
    target = await broadcasts.add_target(session, customer.id, broadcast_id, body)
    return broadcasts.target_public(target)


@router.delete("/{broadcast_id}/targets/{target_id}")
async def remove_target(
    broadcast_id: UUID, target_id: UUID, session: SessionDep, customer: CustomerDep
) -> Any:
    """Remove one target."""
    await broadcasts.remove_target(session, customer.id, broadcast_id, target_id)
    return Message(message=f"target {target_id} removed").model_dump()

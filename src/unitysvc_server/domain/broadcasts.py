"""Broadcasts (``b/<name>``): CRUD of a customer's fan-out definitions and targets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from unitysvc.models import (
    BroadcastCreate,
    BroadcastPublic,
    BroadcastsPublic,
    BroadcastTargetCreate,
    BroadcastTargetPublic,
    BroadcastUpdate,
)
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.errors import Conflict, NotFound, Unprocessable
from unitysvc_server.domain.ownership import get_owned
from unitysvc_server.domain.pages import page_of
from unitysvc_server.domain.patch import PatchField, apply_patch
from unitysvc_server.domain.routing_objects import (
    Loc,
    validate_object_name,
    validate_sort_order,
    validate_target_path,
    validate_timeout_ms,
)
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.queries import broadcasts as queries
from unitysvc_server.storage.session import Session, Sessions
from unitysvc_server.storage.tables.broadcasts import BroadcastRow, BroadcastTargetRow

__all__ = [
    "DEFAULT_TARGET_TIMEOUT_MS",
    "add_target",
    "BroadcastPlan",
    "BroadcastTargetPlan",
    "broadcast_by_name",
    "broadcast_plan",
    "broadcast_public",
    "create_broadcast",
    "delete_broadcast",
    "get_broadcast",
    "list_broadcasts",
    "ordered_targets",
    "remove_target",
    "replace_targets",
    "target_public",
    "update_broadcast",
]

DEFAULT_TARGET_TIMEOUT_MS = 30_000


def ordered_targets(broadcast: BroadcastRow) -> list[BroadcastTargetRow]:
    """The broadcast's targets in ``sort_order``, then creation order."""
    return sorted(
        broadcast.targets, key=lambda target: (target.sort_order, target.created_at, str(target.id))
    )


def target_public(target: BroadcastTargetRow) -> BroadcastTargetPublic:
    """The wire form of a target."""
    return BroadcastTargetPublic.model_validate(target, from_attributes=True)


def broadcast_public(broadcast: BroadcastRow) -> BroadcastPublic:
    """The wire form of a broadcast, targets in order."""
    return BroadcastPublic(
        id=broadcast.id,
        customer_id=broadcast.customer_id,
        owner_id=broadcast.owner_id,
        name=broadcast.name,
        description=broadcast.description,
        mode="async" if broadcast.mode == "async" else "sync",
        target_timeout_ms=broadcast.target_timeout_ms,
        enabled=broadcast.enabled,
        details=broadcast.details,
        created_at=broadcast.created_at,
        updated_at=broadcast.updated_at,
        targets=[target_public(target) for target in ordered_targets(broadcast)],
    )


def _new_target(body: BroadcastTargetCreate, loc: Loc) -> BroadcastTargetRow:
    if not body.name.strip():
        raise Unprocessable((*loc, "name"), "must not be empty")
    return BroadcastTargetRow(
        name=body.name,
        target_path=validate_target_path(body.target_path, (*loc, "target_path")),
        routing_key_override=body.routing_key_override or None,
        sort_order=validate_sort_order(body.sort_order or 0, (*loc, "sort_order")),
    )


def _new_targets(bodies: Sequence[BroadcastTargetCreate], loc: Loc) -> list[BroadcastTargetRow]:
    return [_new_target(body, (*loc, index)) for index, body in enumerate(bodies)]


async def create_broadcast(
    session: Session, customer_id: uuid.UUID, body: BroadcastCreate, *, shared: bool
) -> BroadcastRow:
    """Create a broadcast with its initial targets.

    Raises:
        Unprocessable: A field is invalid (the error's location names it).
        Conflict: The customer already has a broadcast of that name.
    """
    broadcast = BroadcastRow(
        customer_id=customer_id,
        owner_id=None if shared else customer_id,
        name=validate_object_name(body.name, ("body", "name")),
        description=body.description,
        mode=body.mode or "sync",
        target_timeout_ms=validate_timeout_ms(
            DEFAULT_TARGET_TIMEOUT_MS if body.target_timeout_ms is None else body.target_timeout_ms,
            ("body", "target_timeout_ms"),
        ),
        enabled=body.enabled is not False,
        targets=_new_targets(body.targets or [], ("body", "targets")),
    )
    try:
        await queries.insert(session, broadcast)
    except Duplicate as exc:
        raise Conflict(f"a broadcast named {broadcast.name!r} already exists") from exc
    return broadcast


async def list_broadcasts(
    session: Session,
    customer_id: uuid.UUID,
    *,
    skip: int,
    limit: int,
    shared: bool,
    cursor: str | None = None,
) -> BroadcastsPublic:
    """A page of the customer's broadcasts by name; ``count`` is the total.

    By ``skip``/``limit``, or after the previous page's ``next_cursor``
    (:func:`~unitysvc_server.domain.pages.page_of`).

    Raises:
        Unprocessable: ``cursor`` is not one of this list's, or comes with ``skip``.
    """
    listing = queries.listing(customer_id, shared=shared)
    page = await page_of(session, listing, skip=skip, limit=limit, cursor=cursor)
    return page.wire(BroadcastsPublic, broadcast_public)


async def get_broadcast(
    session: Session, customer_id: uuid.UUID, broadcast_id: uuid.UUID
) -> BroadcastRow:
    """One of the customer's broadcasts, targets loaded.

    Raises:
        NotFound: No such broadcast for this customer.
    """
    return await get_owned(session, BroadcastRow, broadcast_id, customer_id, what="broadcast")


async def broadcast_by_name(
    session: Session, customer_id: uuid.UUID, name: str
) -> BroadcastRow | None:
    """The customer's broadcast called ``name`` (for the gateway's ``b/<name>``).

    Use :func:`ordered_targets` for the targets; ``enabled`` and ``mode`` are the
    caller's to honour.
    """
    return await queries.by_name(session, customer_id, name)


#: How ``PATCH /broadcasts/{id}`` applies each field.
_PATCH = {
    "description": PatchField(nullable=True),
    "mode": PatchField(),
    "target_timeout_ms": PatchField(validate_timeout_ms),
    "enabled": PatchField(),
}


async def update_broadcast(
    session: Session, customer_id: uuid.UUID, broadcast_id: uuid.UUID, body: BroadcastUpdate
) -> BroadcastRow:
    """Update the given top-level fields of a broadcast.

    Raises:
        NotFound: No such broadcast.
        Unprocessable: A field is invalid or a required one is set to null.
    """
    broadcast = await get_broadcast(session, customer_id, broadcast_id)
    apply_patch(broadcast, body, _PATCH)
    await queries.flush(session)
    return broadcast


async def delete_broadcast(
    session: Session, customer_id: uuid.UUID, broadcast_id: uuid.UUID
) -> None:
    """Delete a broadcast and its targets.

    Raises:
        NotFound: No such broadcast.
    """
    broadcast = await get_broadcast(session, customer_id, broadcast_id)
    await queries.delete(session, broadcast)


async def replace_targets(
    session: Session,
    customer_id: uuid.UUID,
    broadcast_id: uuid.UUID,
    bodies: Sequence[BroadcastTargetCreate],
) -> BroadcastRow:
    """Replace all targets of a broadcast.

    Raises:
        NotFound: No such broadcast.
        Unprocessable: A target is invalid (location ``body.<index>.<field>``).
    """
    broadcast = await get_broadcast(session, customer_id, broadcast_id)
    broadcast.targets = _new_targets(bodies, ("body",))
    broadcast.updated_at = utcnow()
    await queries.flush(session)
    return broadcast


async def add_target(
    session: Session,
    customer_id: uuid.UUID,
    broadcast_id: uuid.UUID,
    body: BroadcastTargetCreate,
) -> BroadcastTargetRow:
    """Add one target to a broadcast.

    Raises:
        NotFound: No such broadcast.
        Unprocessable: The target is invalid.
    """
    broadcast = await get_broadcast(session, customer_id, broadcast_id)
    target = _new_target(body, ("body",))
    broadcast.targets.append(target)
    await queries.flush(session)
    return target


async def remove_target(
    session: Session, customer_id: uuid.UUID, broadcast_id: uuid.UUID, target_id: uuid.UUID
) -> None:
    """Remove one target.

    Raises:
        NotFound: No such broadcast or target.
    """
    broadcast = await get_broadcast(session, customer_id, broadcast_id)
    for target in broadcast.targets:
        if target.id == target_id:
            broadcast.targets.remove(target)
            await queries.flush(session)
            return
    raise NotFound(f"target {target_id} not found in broadcast {broadcast_id}")


@dataclass(frozen=True, slots=True)
class BroadcastTargetPlan:
    """One target of a broadcast as the gateway fires it."""

    name: str
    target_path: str
    override: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class BroadcastPlan:
    """A broadcast as the gateway fires it: a value, detached from any session."""

    enabled: bool
    mode: str
    target_timeout_ms: int
    targets: tuple[BroadcastTargetPlan, ...]


async def broadcast_plan(
    sessions: Sessions, customer_id: uuid.UUID, name: str
) -> BroadcastPlan | None:
    """The customer's broadcast called ``name`` with its targets in order, or None.

    Reads in a session of its own, closed before the gateway fires the targets.
    """
    async with sessions() as session:
        broadcast = await broadcast_by_name(session, customer_id, name)
        if broadcast is None:
            return None
        targets = tuple(
            BroadcastTargetPlan(t.name, t.target_path, t.routing_key_override or None)
            for t in ordered_targets(broadcast)
        )
        return BroadcastPlan(
            broadcast.enabled, broadcast.mode, broadcast.target_timeout_ms, targets
        )

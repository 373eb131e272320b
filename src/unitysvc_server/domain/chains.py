"""Chains (``c/<name>``): CRUD of a customer's chains and their ordered steps.

What a chain does at dispatch time is the gateway's business; this module keeps
the definitions valid: a name usable as one path segment, gateway-relative step
targets, known step outcomes (``stop``, ``relay``, ``continue``) and bounded
timeouts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from unitysvc.models import (
    ChainCreate,
    ChainPublic,
    ChainsPublic,
    ChainStepCreate,
    ChainStepPublic,
    ChainStepUpdate,
    ChainUpdate,
)
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.errors import Conflict, NotFound, Unprocessable
from unitysvc_server.domain.ownership import get_owned
from unitysvc_server.domain.pages import page_of
from unitysvc_server.domain.patch import PatchField, apply_patch
from unitysvc_server.domain.routing_objects import (
    Loc,
    validate_object_name,
    validate_outcome,
    validate_sort_order,
    validate_target_path,
    validate_timeout_ms,
)
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.queries import chains as queries
from unitysvc_server.storage.session import Session, Sessions
from unitysvc_server.storage.tables.chains import ChainRow, ChainStepRow

__all__ = [
    "DEFAULT_CHAIN_TIMEOUT_MS",
    "add_step",
    "ChainPlan",
    "ChainStepPlan",
    "chain_by_name",
    "chain_plan",
    "chain_public",
    "create_chain",
    "delete_chain",
    "get_chain",
    "list_chains",
    "ordered_steps",
    "remove_step",
    "replace_steps",
    "step_public",
    "update_chain",
    "update_step",
]

DEFAULT_CHAIN_TIMEOUT_MS = 10_000


def ordered_steps(chain: ChainRow) -> list[ChainStepRow]:
    """The chain's steps in execution order (``sort_order``, then creation)."""
    return sorted(chain.steps, key=lambda step: (step.sort_order, step.created_at, str(step.id)))


def step_public(step: ChainStepRow) -> ChainStepPublic:
    """The wire form of a step."""
    return ChainStepPublic.model_validate(step, from_attributes=True)


def chain_public(chain: ChainRow) -> ChainPublic:
    """The wire form of a chain, steps in execution order."""
    return ChainPublic(
        id=chain.id,
        customer_id=chain.customer_id,
        owner_id=chain.owner_id,
        name=chain.name,
        description=chain.description,
        default_timeout_ms=chain.default_timeout_ms,
        enabled=chain.enabled,
        details=chain.details,
        created_at=chain.created_at,
        updated_at=chain.updated_at,
        steps=[step_public(step) for step in ordered_steps(chain)],
    )


def _new_step(body: ChainStepCreate, loc: Loc) -> ChainStepRow:
    if not body.name.strip():
        raise Unprocessable((*loc, "name"), "must not be empty")
    return ChainStepRow(
        name=body.name,
        target_path=validate_target_path(body.target_path, (*loc, "target_path")),
        on_success=validate_outcome(body.on_success or "stop", (*loc, "on_success")),
        on_failure=validate_outcome(body.on_failure or "relay", (*loc, "on_failure")),
        timeout_ms=None
        if body.timeout_ms is None
        else validate_timeout_ms(body.timeout_ms, (*loc, "timeout_ms")),
        sort_order=validate_sort_order(body.sort_order, (*loc, "sort_order")),
    )


def _new_steps(bodies: Sequence[ChainStepCreate], loc: Loc) -> list[ChainStepRow]:
    return [_new_step(body, (*loc, index)) for index, body in enumerate(bodies)]


async def create_chain(
    session: Session, customer_id: uuid.UUID, body: ChainCreate, *, shared: bool
) -> ChainRow:
    """Create a chain with its initial steps.

    Raises:
        Unprocessable: A field is invalid (the error's location names it).
        Conflict: The customer already has a chain of that name.
    """
    chain = ChainRow(
        customer_id=customer_id,
        owner_id=None if shared else customer_id,
        name=validate_object_name(body.name, ("body", "name")),
        description=body.description,
        default_timeout_ms=validate_timeout_ms(
            DEFAULT_CHAIN_TIMEOUT_MS
            if body.default_timeout_ms is None
            else body.default_timeout_ms,
            ("body", "default_timeout_ms"),
        ),
        enabled=body.enabled is not False,
        steps=_new_steps(body.steps or [], ("body", "steps")),
    )
    try:
        await queries.insert(session, chain)
    except Duplicate as exc:
        raise Conflict(f"a chain named {chain.name!r} already exists") from exc
    return chain


async def list_chains(
    session: Session,
    customer_id: uuid.UUID,
    *,
    skip: int,
    limit: int,
    shared: bool,
    cursor: str | None = None,
) -> ChainsPublic:
    """A page of the customer's chains by name; ``count`` is the total.

    By ``skip``/``limit``, or after the previous page's ``next_cursor``
    (:func:`~unitysvc_server.domain.pages.page_of`).

    Raises:
        Unprocessable: ``cursor`` is not one of this list's, or comes with ``skip``.
    """
    listing = queries.listing(customer_id, shared=shared)
    page = await page_of(session, listing, skip=skip, limit=limit, cursor=cursor)
    return page.wire(ChainsPublic, chain_public)


async def get_chain(session: Session, customer_id: uuid.UUID, chain_id: uuid.UUID) -> ChainRow:
    """One of the customer's chains, steps loaded.

    Raises:
        NotFound: No such chain for this customer.
    """
    return await get_owned(session, ChainRow, chain_id, customer_id, what="chain")


async def chain_by_name(session: Session, customer_id: uuid.UUID, name: str) -> ChainRow | None:
    """The customer's chain called ``name`` (for the gateway's ``c/<name>``), steps loaded.

    Use :func:`ordered_steps` for the execution order; ``enabled`` is the
    caller's to check.
    """
    return await queries.by_name(session, customer_id, name)


#: How ``PATCH /chains/{id}`` applies each field.
_PATCH = {
    "description": PatchField(nullable=True),
    "default_timeout_ms": PatchField(validate_timeout_ms),
    "enabled": PatchField(),
}


def _step_name(value: str, loc: tuple[str, ...]) -> str:
    if not value.strip():
        raise Unprocessable(loc, "must not be empty")
    return value


#: How ``PATCH /chains/{id}/steps/{step_id}`` applies each field.
_STEP_PATCH = {
    "name": PatchField(_step_name),
    "target_path": PatchField(validate_target_path),
    "on_success": PatchField(validate_outcome),
    "on_failure": PatchField(validate_outcome),
    "timeout_ms": PatchField(validate_timeout_ms, nullable=True),
    "sort_order": PatchField(validate_sort_order),
}


async def update_chain(
    session: Session, customer_id: uuid.UUID, chain_id: uuid.UUID, body: ChainUpdate
) -> ChainRow:
    """Update the given top-level fields of a chain.

    Raises:
        NotFound: No such chain.
        Unprocessable: A field is invalid.
    """
    chain = await get_chain(session, customer_id, chain_id)
    apply_patch(chain, body, _PATCH)
    await queries.flush(session)
    return chain


async def delete_chain(session: Session, customer_id: uuid.UUID, chain_id: uuid.UUID) -> None:
    """Delete a chain and its steps.

    Raises:
        NotFound: No such chain.
    """
    chain = await get_chain(session, customer_id, chain_id)
    await queries.delete(session, chain)


async def replace_steps(
    session: Session,
    customer_id: uuid.UUID,
    chain_id: uuid.UUID,
    bodies: Sequence[ChainStepCreate],
) -> ChainRow:
    """Replace all steps of a chain.

    Raises:
        NotFound: No such chain.
        Unprocessable: A step is invalid (location ``body.<index>.<field>``).
    """
    chain = await get_chain(session, customer_id, chain_id)
    chain.steps = _new_steps(bodies, ("body",))
    chain.updated_at = utcnow()
    await queries.flush(session)
    return chain


async def add_step(
    session: Session, customer_id: uuid.UUID, chain_id: uuid.UUID, body: ChainStepCreate
) -> ChainStepRow:
    """Append a step to a chain.

    Raises:
        NotFound: No such chain.
        Unprocessable: The step is invalid.
    """
    chain = await get_chain(session, customer_id, chain_id)
    step = _new_step(body, ("body",))
    chain.steps.append(step)
    await queries.flush(session)
    return step


async def _get_step(
    session: Session, customer_id: uuid.UUID, chain_id: uuid.UUID, step_id: uuid.UUID
) -> tuple[ChainRow, ChainStepRow]:
    chain = await get_chain(session, customer_id, chain_id)
    for step in chain.steps:
        if step.id == step_id:
            return chain, step
    raise NotFound(f"step {step_id} not found in chain {chain_id}")


async def update_step(
    session: Session,
    customer_id: uuid.UUID,
    chain_id: uuid.UUID,
    step_id: uuid.UUID,
    body: ChainStepUpdate,
) -> ChainStepRow:
    """Update the given fields of one step.

    Raises:
        NotFound: No such chain or step.
        Unprocessable: A field is invalid or a required one is set to null.
    """
    _, step = await _get_step(session, customer_id, chain_id, step_id)
    apply_patch(step, body, _STEP_PATCH)
    await queries.flush(session)
    return step


async def remove_step(
    session: Session, customer_id: uuid.UUID, chain_id: uuid.UUID, step_id: uuid.UUID
) -> None:
    """Remove one step.

    Raises:
        NotFound: No such chain or step.
    """
    chain, step = await _get_step(session, customer_id, chain_id, step_id)
    chain.steps.remove(step)
    await queries.flush(session)


@dataclass(frozen=True, slots=True)
class ChainStepPlan:
    """One step of a chain as the gateway runs it (timeout already defaulted)."""

    name: str
    target_path: str
    on_success: str
    on_failure: str
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class ChainPlan:
    """A chain as the gateway runs it: a value, detached from any session."""

    enabled: bool
    steps: tuple[ChainStepPlan, ...]


async def chain_plan(sessions: Sessions, customer_id: uuid.UUID, name: str) -> ChainPlan | None:
    """The customer's chain called ``name`` as steps in execution order, or None.

    Reads in a session of its own, closed before the gateway runs the steps.
    """
    async with sessions() as session:
        chain = await chain_by_name(session, customer_id, name)
        if chain is None:
            return None
        default_ms = chain.default_timeout_ms
        steps = tuple(
            ChainStepPlan(
                s.name, s.target_path, s.on_success, s.on_failure, s.timeout_ms or default_ms
            )
            for s in ordered_steps(chain)
        )
        return ChainPlan(chain.enabled, steps)

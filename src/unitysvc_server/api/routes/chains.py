"""``/v1/chains``: the customer's chains (``c/<name>``) and their ordered steps."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from unitysvc.models import (
    ChainCreate,
    ChainPublic,
    ChainsPublic,
    ChainStepCreate,
    ChainStepPublic,
    ChainStepUpdate,
    ChainUpdate,
    Message,
)
from unitysvc_server.api.deps import (
    CursorQuery,
    CustomerDep,
    LimitQuery,
    SessionDep,
    SkipQuery,
)
from unitysvc_server.domain import chains

router = APIRouter(prefix="/chains", tags=["chains"])


@router.post("/", status_code=201)
async def create_chain(
    body: ChainCreate, session: SessionDep, customer: CustomerDep, shared: bool = False
) -> ChainPublic:
    """Create a chain with its steps."""
    return chains.chain_public(await chains.create_chain(session, customer.id, body, shared=shared))


@router.get("/")
async def list_chains(
    session: SessionDep,
    customer: CustomerDep,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    shared: bool = False,
) -> ChainsPublic:
    """List the customer's chains (``shared=true``: shared ones only)."""
    return await chains.list_chains(
        session, customer.id, skip=skip, limit=limit, shared=shared, cursor=cursor
    )


@router.get("/{chain_id}")
async def get_chain(chain_id: UUID, session: SessionDep, customer: CustomerDep) -> ChainPublic:
    """One chain with its steps."""
    return chains.chain_public(await chains.get_chain(session, customer.id, chain_id))


@router.patch("/{chain_id}")
async def update_chain(
    chain_id: UUID, body: ChainUpdate, session: SessionDep, customer: CustomerDep
) -> ChainPublic:
    """Change a chain's description, default timeout or enabled flag."""
    return chains.chain_public(await chains.update_chain(session, customer.id, chain_id, body))


@router.delete("/{chain_id}")
async def delete_chain(chain_id: UUID, session: SessionDep, customer: CustomerDep) -> Any:
    """Delete a chain and its steps."""
    await chains.delete_chain(session, customer.id, chain_id)
    return Message(message=f"chain {chain_id} deleted").model_dump()


@router.put("/{chain_id}/steps")
async def replace_steps(
    chain_id: UUID, body: list[ChainStepCreate], session: SessionDep, customer: CustomerDep
) -> ChainPublic:
    """Replace every step of a chain."""
    return chains.chain_public(await chains.replace_steps(session, customer.id, chain_id, body))


@router.post("/{chain_id}/steps", status_code=201)
async def add_step(
    chain_id: UUID, body: ChainStepCreate, session: SessionDep, customer: CustomerDep
) -> ChainStepPublic:
    """Add one step to a chain."""
    return chains.step_public(await chains.add_step(session, customer.id, chain_id, body))


@router.patch("/{chain_id}/steps/{step_id}")
async def update_step(
    chain_id: UUID,
    step_id: UUID,
    body: ChainStepUpdate,
    session: SessionDep,
    customer: CustomerDep,
) -> ChainStepPublic:
    """Change one step."""
    step = await chains.update_step(session, customer.id, chain_id, step_id, body)
    return chains.step_public(step)


@router.delete("/{chain_id}/steps/{step_id}")
async def remove_step(
    chain_id: UUID, step_id: UUID, session: SessionDep, customer: CustomerDep
) -> Any:
    """Remove one step."""
    await chains.remove_step(session, customer.id, chain_id, step_id)
    return Message(message=f"step {step_id} removed").model_dump()

"""``/v1/budgets``: per-cycle spend caps on the customer's gateway calls.

Our extension to the contract (``x-unitysvc-extension: budgets`` in
``customer-openapi.json``); the gateway enforces them (``gateway.budgets``).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from unitysvc.models import BudgetCreate, BudgetPublic, BudgetsPublic, BudgetStatus, BudgetUpdate
from unitysvc_server.api.catalog_deps import CatalogDep
from unitysvc_server.api.deps import CustomerDep, SessionDep
from unitysvc_server.clock import utcnow
from unitysvc_server.domain import budgets

router = APIRouter(prefix="/budgets", tags=["budgets"])


@router.get("/")
async def list_budgets(
    session: SessionDep, customer: CustomerDep, catalog: CatalogDep
) -> BudgetsPublic:
    """The customer's budgets with their status in the current cycle."""
    return await budgets.list_budgets(session, catalog, customer.id, utcnow())


@router.post("/", status_code=201)
async def create_budget(
    body: BudgetCreate, session: SessionDep, customer: CustomerDep, catalog: CatalogDep
) -> BudgetPublic:
    """Create a budget: a hard cap per cycle on a scope's charges, optional alert threshold."""
    return await budgets.create_budget(session, catalog, customer.id, body, utcnow())


@router.get("/{budget_id}")
async def get_budget(
    budget_id: uuid.UUID, session: SessionDep, customer: CustomerDep, catalog: CatalogDep
) -> BudgetPublic:
    """One budget with its status in the current cycle."""
    return await budgets.get_budget(session, catalog, customer.id, budget_id, utcnow())


@router.patch("/{budget_id}")
async def update_budget(
    budget_id: uuid.UUID,
    body: BudgetUpdate,
    session: SessionDep,
    customer: CustomerDep,
    catalog: CatalogDep,
) -> BudgetPublic:
    """Change a budget's name, cap or alert threshold (``null`` threshold removes it)."""
    return await budgets.update_budget(session, catalog, customer.id, budget_id, body, utcnow())


@router.delete("/{budget_id}", status_code=204)
async def delete_budget(
    budget_id: uuid.UUID, session: SessionDep, customer: CustomerDep
) -> Response:
    """Delete a budget."""
    await budgets.delete_budget(session, customer.id, budget_id)
    return Response(status_code=204)


@router.get("/{budget_id}/status")
async def get_budget_status(
    budget_id: uuid.UUID, session: SessionDep, customer: CustomerDep
) -> BudgetStatus:
    """A budget's spend this cycle: spent, remaining, alerting, exhausted."""
    return await budgets.get_status(session, customer.id, budget_id, utcnow())

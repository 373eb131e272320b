"""Queries of budget counters (``domain.budget_spend``): one row per (budget, cycle).

The increment is one ``INSERT ... ON CONFLICT (budget_id, cycle_start) DO UPDATE SET
spent_pico = spent_pico + excluded.spent_pico`` in the session's dialect (PostgreSQL or
SQLite), so concurrent increments never lose one.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.budgets import BudgetSpendRow

__all__ = ["add", "spent"]


async def spent(
    session: Session, budget_ids: Collection[uuid.UUID], cycle_start: date
) -> dict[uuid.UUID, int]:
    """The counter of each of ``budget_ids`` that has one for the cycle starting ``cycle_start``."""
    rows = await session.execute(
        select(BudgetSpendRow.budget_id, BudgetSpendRow.spent_pico).where(
            BudgetSpendRow.budget_id.in_(list(budget_ids)),
            BudgetSpendRow.cycle_start == cycle_start,
        )
    )
    return {budget_id: int(spent) for budget_id, spent in rows}


async def add(
    session: Session, amounts: Mapping[uuid.UUID, int], cycle_start: date
) -> dict[uuid.UUID, int]:
    """Add ``amounts`` (budget id -> units) to the cycle's counters in one upsert; the totals."""
    # One order for every writer: PostgreSQL locks the rows in VALUES order, so two
    # calls counting against the same budgets can never deadlock.
    values = [
        {"budget_id": budget_id, "cycle_start": cycle_start, "spent_pico": amounts[budget_id]}
        for budget_id in sorted(amounts)
    ]
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(BudgetSpendRow).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[BudgetSpendRow.budget_id, BudgetSpendRow.cycle_start],
        set_={"spent_pico": BudgetSpendRow.spent_pico + statement.excluded.spent_pico},
    ).returning(BudgetSpendRow.budget_id, BudgetSpendRow.spent_pico)
    rows = await session.execute(statement)
    return {budget_id: int(spent) for budget_id, spent in rows}

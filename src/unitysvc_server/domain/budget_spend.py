"""What budgets have counted: one row per (budget, cycle), incremented atomically.

Every server process and node adds a charged call's cost with one statement,
``INSERT ... ON CONFLICT (budget_id, cycle_start) DO UPDATE SET spent_pico =
spent_pico + excluded.spent_pico``: PostgreSQL takes the row lock for the update and
SQLite serialises writers, so concurrent increments never lose one (no read-modify-write
in Python). Amounts are integers of 10^-12 currency units, as usage charges are.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from unitysvc_server.storage.tables.budgets import BudgetSpendRow

__all__ = ["add_spend", "read_spend"]


async def read_spend(
    session: AsyncSession, budget_ids: Collection[uuid.UUID], cycle_start: date
) -> dict[uuid.UUID, int]:
    """What each of ``budget_ids`` has counted in the cycle starting ``cycle_start``
    (absent: nothing yet)."""
    if not budget_ids:
        return {}
    rows = await session.execute(
        select(BudgetSpendRow.budget_id, BudgetSpendRow.spent_pico).where(
            BudgetSpendRow.budget_id.in_(list(budget_ids)),
            BudgetSpendRow.cycle_start == cycle_start,
        )
    )
    return {budget_id: int(spent) for budget_id, spent in rows}


async def add_spend(
    session: AsyncSession, amounts: Mapping[uuid.UUID, int], cycle_start: date
) -> dict[uuid.UUID, int]:
    """Add ``amounts`` (budget id -> units) to the cycle's counters in one atomic statement.

    Returns each budget's total after the addition (the caller commits).
    """
    if not amounts:
        return {}
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

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

from unitysvc_server.storage.queries import budget_spend as queries
from unitysvc_server.storage.session import Session, Sessions

__all__ = ["add_spend", "read_spend", "record_spend", "spend_now"]


async def read_spend(
    session: Session, budget_ids: Collection[uuid.UUID], cycle_start: date
) -> dict[uuid.UUID, int]:
    """What each of ``budget_ids`` has counted in the cycle starting ``cycle_start``
    (absent: nothing yet)."""
    if not budget_ids:
        return {}
    return await queries.spent(session, budget_ids, cycle_start)


async def add_spend(
    session: Session, amounts: Mapping[uuid.UUID, int], cycle_start: date
) -> dict[uuid.UUID, int]:
    """Add ``amounts`` (budget id -> units) to the cycle's counters in one atomic statement.

    Returns each budget's total after the addition (the caller commits).
    """
    if not amounts:
        return {}
    return await queries.add(session, amounts, cycle_start)


async def spend_now(
    sessions: Sessions, budget_ids: Collection[uuid.UUID], cycle_start: date
) -> dict[uuid.UUID, int]:
    """:func:`read_spend` in a session of its own (the gateway's admission check)."""
    async with sessions() as session:
        return await read_spend(session, budget_ids, cycle_start)


async def record_spend(
    sessions: Sessions, amounts: Mapping[uuid.UUID, int], cycle_start: date
) -> None:
    """:func:`add_spend` in a transaction of its own, committed (the gateway's settlement)."""
    async with sessions() as session, session.begin():
        await add_spend(session, amounts, cycle_start)

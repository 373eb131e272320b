"""Queries of usage events (``domain.usage``): the batch insert and the cycle sums."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, insert, select

from unitysvc_server.storage.session import Session
from unitysvc_server.storage.sqlite_driver import long_read
from unitysvc_server.storage.tables.usage import UsageEventRow

__all__ = ["charged", "cycle_groups", "event", "insert_events"]


async def insert_events(session: Session, values: Sequence[dict[str, Any]]) -> None:
    """Insert usage events (one dict of column values each) in one executemany statement."""
    await session.execute(insert(UsageEventRow), values)


async def event(
    session: Session, customer_id: uuid.UUID, event_id: uuid.UUID
) -> UsageEventRow | None:
    """The customer's usage event ``event_id``, or ``None``."""
    return await session.scalar(
        select(UsageEventRow).where(
            UsageEventRow.id == event_id, UsageEventRow.customer_id == customer_id
        )
    )


async def cycle_groups(
    session: Session,
    customer_id: uuid.UUID,
    start: datetime,
    end: datetime,
    metered: Sequence[str],
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The customer's events in ``[start, end)`` summed per service, channel and currency.

    Each row is ``(service_id, channel, currency, count, successes, charge_pico,
    duration_ms, *sums)``, with one sum per column named in ``metered`` (``NULL`` when
    every event of the group left it unset).
    """
    row = UsageEventRow
    sums = [func.sum(getattr(row, name)) for name in metered]
    with long_read():  # a cycle's events: as many as the customer's calls
        result = await session.execute(
            select(
                row.service_id,
                row.channel,
                row.currency,
                func.count(),
                func.sum(case((row.success, 1), else_=0)),
                func.sum(row.charge_pico),
                func.sum(row.duration_ms),
                *sums,
            )
            .where(
                row.customer_id == customer_id,
                row.event_timestamp >= start,
                row.event_timestamp < end,
            )
            .group_by(row.service_id, row.channel, row.currency)
        )
    return result.all()


async def charged(
    session: Session,
    customer_id: uuid.UUID,
    currency: str,
    start: datetime,
    end: datetime,
    *,
    service_id: uuid.UUID | None = None,
) -> int:
    """What the customer was charged in ``currency`` in ``[start, end)`` (for one service)."""
    query = select(func.sum(UsageEventRow.charge_pico)).where(
        UsageEventRow.customer_id == customer_id,
        UsageEventRow.currency == currency,
        UsageEventRow.event_timestamp >= start,
        UsageEventRow.event_timestamp < end,
    )
    if service_id is not None:
        query = query.where(UsageEventRow.service_id == service_id)
    with long_read():
        return int(await session.scalar(query) or 0)

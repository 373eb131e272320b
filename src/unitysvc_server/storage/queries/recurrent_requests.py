"""Queries of recurrent requests (``domain.recurrent_requests``, ``domain.recurrent_runs``).

The scheduler's lease locks the due rows with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL;
SQLite serialises writers and ignores the clause), so servers sharing a database never
claim the same row in one tick.

The list is oldest first, ``(created_at, id)``, through the index on
``(customer_id, created_at, id)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update

from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.recurrent_requests import RecurrentRequestRow

__all__ = [
    "delete",
    "due_for_update",
    "flush",
    "insert",
    "listing",
    "next_due_at",
    "owned",
    "record_run",
]


async def insert(session: Session, row: RecurrentRequestRow) -> None:
    """Add a new recurrent request and flush it."""
    session.add(row)
    await session.flush()


async def flush(session: Session) -> None:
    """Flush the changes made to loaded recurrent requests."""
    await session.flush()


async def delete(session: Session, row: RecurrentRequestRow) -> None:
    """Delete a recurrent request and flush."""
    await session.delete(row)
    await session.flush()


async def owned(
    session: Session, request_id: uuid.UUID, customer_id: uuid.UUID
) -> RecurrentRequestRow | None:
    """The customer's recurrent request ``request_id``, or ``None``."""
    return await session.scalar(
        select(RecurrentRequestRow).where(
            RecurrentRequestRow.id == request_id,
            RecurrentRequestRow.customer_id == customer_id,
        )
    )


async def due_for_update(
    session: Session, now: datetime, limit: int
) -> Sequence[RecurrentRequestRow]:
    """The active requests due at ``now``, earliest first, locked (skipping locked ones)."""
    rows = await session.scalars(
        select(RecurrentRequestRow)
        .where(
            RecurrentRequestRow.status == "active",
            RecurrentRequestRow.next_run_at.is_not(None),
            RecurrentRequestRow.next_run_at <= now,
        )
        .order_by(RecurrentRequestRow.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return rows.all()


async def next_due_at(session: Session) -> datetime | None:
    """The earliest ``next_run_at`` of the active requests (``None``: none is scheduled)."""
    return await session.scalar(
        select(func.min(RecurrentRequestRow.next_run_at)).where(
            RecurrentRequestRow.status == "active"
        )
    )


async def record_run(
    session: Session,
    request_id: uuid.UUID,
    *,
    fired_at: datetime,
    succeeded: int,
    status_code: int | None,
    error: str | None,
) -> None:
    """Count one firing in SQL (``succeeded`` is 1 or 0); a deleted request matches nothing."""
    await session.execute(
        update(RecurrentRequestRow)
        .where(RecurrentRequestRow.id == request_id)
        .values(
            last_run_at=fired_at,
            run_count=RecurrentRequestRow.run_count + 1,
            success_count=RecurrentRequestRow.success_count + succeeded,
            failure_count=RecurrentRequestRow.failure_count + (1 - succeeded),
            last_status_code=status_code,
            last_error=error,
        )
        .execution_options(synchronize_session=False)
    )


def listing(
    customer_id: uuid.UUID,
    *,
    service_id: uuid.UUID | None,
    enrollment_id: uuid.UUID | None,
    status: str | None,
) -> Listing[RecurrentRequestRow]:
    """The customer's recurrent requests, oldest first, narrowed by the filters given."""
    where = [RecurrentRequestRow.customer_id == customer_id]
    if service_id is not None:
        where.append(RecurrentRequestRow.service_id == service_id)
    if enrollment_id is not None:
        where.append(RecurrentRequestRow.enrollment_id == enrollment_id)
    if status is not None:
        where.append(RecurrentRequestRow.status == status)
    return Listing(
        RecurrentRequestRow,
        tuple(where),
        RecurrentRequestRow.created_at,
        "time",
        RecurrentRequestRow.id,
    )

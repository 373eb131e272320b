"""Queries of customer enrollments (``domain.enrollments``).

The list is newest first, ``(created_at, id)`` descending, through the index on
``(customer_id, created_at, id)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.enrollments import EnrollmentRow

__all__ = [
    "flush",
    "for_service",
    "id_by_code",
    "ids_with_status",
    "in_service_with_status",
    "insert",
    "listing",
    "lock_skip_locked",
]


async def insert(session: Session, row: EnrollmentRow) -> None:
    """Add a new enrollment and flush it."""
    session.add(row)
    await session.flush()


async def flush(session: Session) -> None:
    """Flush the changes made to loaded enrollments."""
    await session.flush()


async def id_by_code(session: Session, code: str) -> uuid.UUID | None:
    """The id of the enrollment holding gateway code ``code`` (any customer), if any."""
    return await session.scalar(select(EnrollmentRow.id).where(EnrollmentRow.code == code))


async def for_service(
    session: Session, customer_id: uuid.UUID, service_id: uuid.UUID, *, shared: bool
) -> Sequence[EnrollmentRow]:
    """The customer's enrollments (personal or shared) in ``service_id``, newest first."""
    rows = await session.execute(
        select(EnrollmentRow)
        .where(
            EnrollmentRow.customer_id == customer_id,
            EnrollmentRow.service_id == service_id,
            EnrollmentRow.shared == shared,
        )
        .order_by(EnrollmentRow.created_at.desc())
    )
    return rows.scalars().all()


async def in_service_with_status(
    session: Session, customer_id: uuid.UUID, service_id: uuid.UUID, status: str
) -> Sequence[EnrollmentRow]:
    """The customer's enrollments in ``service_id`` with ``status``, oldest activation first."""
    rows = await session.execute(
        select(EnrollmentRow)
        .where(
            EnrollmentRow.customer_id == customer_id,
            EnrollmentRow.service_id == service_id,
            EnrollmentRow.status == status,
        )
        .order_by(EnrollmentRow.activated_at, EnrollmentRow.id)
    )
    return rows.scalars().all()


async def ids_with_status(session: Session, status: str, limit: int) -> list[uuid.UUID]:
    """Ids of enrollments with ``status``, oldest first, at most ``limit``."""
    rows = await session.execute(
        select(EnrollmentRow.id)
        .where(EnrollmentRow.status == status)
        .order_by(EnrollmentRow.created_at)
        .limit(limit)
    )
    return list(rows.scalars().all())


async def lock_skip_locked(session: Session, enrollment_id: uuid.UUID) -> EnrollmentRow | None:
    """The enrollment, locked unless another transaction holds it (``FOR UPDATE SKIP LOCKED``)."""
    return await session.scalar(
        select(EnrollmentRow)
        .where(EnrollmentRow.id == enrollment_id)
        .with_for_update(skip_locked=True)
    )


def listing(customer_id: uuid.UUID, *, shared: bool) -> Listing[EnrollmentRow]:
    """The customer's enrollments, newest first: shared ones too when ``shared``."""
    where = [EnrollmentRow.customer_id == customer_id]
    if not shared:
        where.append(EnrollmentRow.shared.is_(False))
    return Listing(
        EnrollmentRow,
        tuple(where),
        EnrollmentRow.created_at,
        "time",
        EnrollmentRow.id,
        descending=True,
    )

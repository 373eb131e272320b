"""Queries of preferences (``domain.preferences``) and of what their values name."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.aliases import AliasRow
from unitysvc_server.storage.tables.broadcasts import BroadcastRow
from unitysvc_server.storage.tables.enrollments import EnrollmentRow
from unitysvc_server.storage.tables.preferences import PreferenceRow

__all__ = [
    "active_enrollment_id",
    "add",
    "broadcast_id",
    "delete",
    "flush_unique",
    "get",
    "live_alias_id",
    "values",
]


async def values(session: Session, customer_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """The customer's set preferences: name -> stored value."""
    rows = await session.scalars(
        select(PreferenceRow).where(PreferenceRow.customer_id == customer_id)
    )
    return {row.name: row.value for row in rows}


async def get(session: Session, customer_id: uuid.UUID, name: str) -> PreferenceRow | None:
    """The customer's preference ``name`` (by primary key, the identity map first), or ``None``."""
    return await session.get(PreferenceRow, (customer_id, name))


def add(session: Session, row: PreferenceRow) -> None:
    """Add a new preference to the unit of work (written by the next flush)."""
    session.add(row)


async def delete(session: Session, row: PreferenceRow) -> None:
    """Mark a preference deleted (written by the next flush)."""
    await session.delete(row)


async def flush_unique(session: Session) -> None:
    """Flush the preference changes (:class:`Duplicate` when a concurrent write won)."""
    with unique():
        await session.flush()


async def broadcast_id(session: Session, customer_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """The id of the customer's broadcast called ``name``, or ``None``."""
    return await session.scalar(
        select(BroadcastRow.id).where(
            BroadcastRow.customer_id == customer_id, BroadcastRow.name == name
        )
    )


async def active_enrollment_id(
    session: Session, customer_id: uuid.UUID, code: str
) -> uuid.UUID | None:
    """The id of the customer's active enrollment with ``code``, or ``None``."""
    return await session.scalar(
        select(EnrollmentRow.id).where(
            EnrollmentRow.customer_id == customer_id,
            EnrollmentRow.code == code,
            EnrollmentRow.status == "active",
        )
    )


async def live_alias_id(session: Session, customer_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """The id of the customer's undeactivated alias called ``name``, or ``None``."""
    return await session.scalar(
        select(AliasRow.id).where(
            AliasRow.customer_id == customer_id,
            AliasRow.name == name,
            AliasRow.deactivated_at.is_(None),
        )
    )

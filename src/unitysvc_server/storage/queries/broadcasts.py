"""Queries of broadcasts and their targets (``domain.broadcasts``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.broadcasts import BroadcastRow

__all__ = ["by_name", "delete", "flush", "insert", "page"]


async def insert(session: Session, broadcast: BroadcastRow) -> None:
    """Add a new broadcast with its targets and flush it (:class:`Duplicate` on a taken name)."""
    session.add(broadcast)
    with unique():
        await session.flush()


async def flush(session: Session) -> None:
    """Flush the changes made to loaded broadcasts and their targets."""
    await session.flush()


async def delete(session: Session, broadcast: BroadcastRow) -> None:
    """Delete a broadcast (its targets cascade) and flush."""
    await session.delete(broadcast)
    await session.flush()


async def page(
    session: Session, customer_id: uuid.UUID, *, skip: int, limit: int, shared: bool
) -> tuple[int, Sequence[BroadcastRow]]:
    """The total of the customer's broadcasts and one page of them by name."""
    query = select(BroadcastRow).where(BroadcastRow.customer_id == customer_id)
    if shared:
        query = query.where(BroadcastRow.owner_id.is_(None))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(BroadcastRow.name).offset(skip).limit(limit))
    return total or 0, rows.all()


async def by_name(session: Session, customer_id: uuid.UUID, name: str) -> BroadcastRow | None:
    """The customer's broadcast called ``name``, targets loaded."""
    return await session.scalar(
        select(BroadcastRow).where(
            BroadcastRow.customer_id == customer_id, BroadcastRow.name == name
        )
    )

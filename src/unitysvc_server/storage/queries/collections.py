"""Queries of customer collections and their members (``domain.collections``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.collections import CollectionRow

__all__ = ["add", "by_id", "delete", "flush", "flush_unique", "for_customer"]


def add(session: Session, row: CollectionRow) -> None:
    """Add a new collection to the unit of work (written at the next flush)."""
    session.add(row)


async def flush(session: Session) -> None:
    """Flush the changes made to loaded collections and their members."""
    await session.flush()


async def flush_unique(session: Session) -> None:
    """Flush pending changes (:class:`Duplicate` on a taken name or member)."""
    with unique():
        await session.flush()


async def delete(session: Session, row: CollectionRow) -> None:
    """Delete a collection (its members cascade) and flush."""
    await session.delete(row)
    await session.flush()


async def for_customer(
    session: Session, customer_id: uuid.UUID, *, shared_only: bool
) -> Sequence[CollectionRow]:
    """The customer's collections (or its shared ones only), by name, personal first."""
    where = [CollectionRow.customer_id == customer_id]
    if shared_only:
        where.append(CollectionRow.shared.is_(True))
    rows = await session.execute(
        select(CollectionRow).where(*where).order_by(CollectionRow.name, CollectionRow.shared)
    )
    return rows.scalars().all()


async def by_id(
    session: Session, customer_id: uuid.UUID, collection_id: uuid.UUID
) -> CollectionRow | None:
    """The customer's collection ``collection_id``, members loaded."""
    return await session.scalar(
        select(CollectionRow).where(
            CollectionRow.id == collection_id, CollectionRow.customer_id == customer_id
        )
    )

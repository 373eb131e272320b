"""Queries of broadcasts and their targets (``domain.broadcasts``).

The list is by name, unique per customer, so the name alone orders it, through the
unique index on ``(customer_id, name)``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.broadcasts import BroadcastRow

__all__ = ["by_name", "delete", "flush", "insert", "listing"]


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


async def by_name(session: Session, customer_id: uuid.UUID, name: str) -> BroadcastRow | None:
    """The customer's broadcast called ``name``, targets loaded."""
    return await session.scalar(
        select(BroadcastRow).where(
            BroadcastRow.customer_id == customer_id, BroadcastRow.name == name
        )
    )


def listing(customer_id: uuid.UUID, *, shared: bool) -> Listing[BroadcastRow]:
    """The customer's broadcasts by name: only the shared ones when ``shared``."""
    where = [BroadcastRow.customer_id == customer_id]
    if shared:
        where.append(BroadcastRow.owner_id.is_(None))
    return Listing(BroadcastRow, tuple(where), BroadcastRow.name, "text", None)

"""Queries of chains and their steps (``domain.chains``).

The list is by name, unique per customer, so the name alone orders it, through the
unique index on ``(customer_id, name)``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.chains import ChainRow

__all__ = ["by_name", "delete", "flush", "insert", "listing"]


async def insert(session: Session, chain: ChainRow) -> None:
    """Add a new chain with its steps and flush it (:class:`Duplicate` on a taken name)."""
    session.add(chain)
    with unique():
        await session.flush()


async def flush(session: Session) -> None:
    """Flush the changes made to loaded chains and their steps."""
    await session.flush()


async def delete(session: Session, chain: ChainRow) -> None:
    """Delete a chain (its steps cascade) and flush."""
    await session.delete(chain)
    await session.flush()


async def by_name(session: Session, customer_id: uuid.UUID, name: str) -> ChainRow | None:
    """The customer's chain called ``name``, steps loaded."""
    return await session.scalar(
        select(ChainRow).where(ChainRow.customer_id == customer_id, ChainRow.name == name)
    )


def listing(customer_id: uuid.UUID, *, shared: bool) -> Listing[ChainRow]:
    """The customer's chains by name: only the shared ones when ``shared``."""
    where = [ChainRow.customer_id == customer_id]
    if shared:
        where.append(ChainRow.owner_id.is_(None))
    return Listing(ChainRow, tuple(where), ChainRow.name, "text", None)

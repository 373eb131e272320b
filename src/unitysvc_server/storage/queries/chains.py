"""Queries of chains and their steps (``domain.chains``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.chains import ChainRow

__all__ = ["by_name", "delete", "flush", "insert", "page"]


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


async def page(
    session: Session, customer_id: uuid.UUID, *, skip: int, limit: int, shared: bool
) -> tuple[int, Sequence[ChainRow]]:
    """The total of the customer's chains and one page of them by name."""
    query = select(ChainRow).where(ChainRow.customer_id == customer_id)
    if shared:
        query = query.where(ChainRow.owner_id.is_(None))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(ChainRow.name).offset(skip).limit(limit))
    return total or 0, rows.all()


async def by_name(session: Session, customer_id: uuid.UUID, name: str) -> ChainRow | None:
    """The customer's chain called ``name``, steps loaded."""
    return await session.scalar(
        select(ChainRow).where(ChainRow.customer_id == customer_id, ChainRow.name == name)
    )

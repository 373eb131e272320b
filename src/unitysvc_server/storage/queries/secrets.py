"""Queries of customer secrets (``domain.secrets``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.secrets import SecretRow

__all__ = ["by_id", "delete", "flush", "insert", "row", "rows_by_name"]


async def rows_by_name(session: Session, customer_id: uuid.UUID) -> Sequence[Row[*tuple[Any, ...]]]:
    """Core rows of the customer's secrets by ``(name, shared)``: personal before shared."""
    # Core rows of the table: a list builds no ORM objects (about a third of its CPU).
    table = SecretRow.__table__
    result = await session.execute(
        select(table)
        .where(table.c.customer_id == customer_id)
        .order_by(table.c.name, table.c.shared)
    )
    return result.all()


async def row(
    session: Session, customer_id: uuid.UUID, name: str, shared: bool, *, lock: bool = False
) -> SecretRow | None:
    """The customer's personal (or shared) row ``name``; ``lock`` selects it for update."""
    query = select(SecretRow).where(
        SecretRow.customer_id == customer_id,
        SecretRow.name == name,
        SecretRow.shared == shared,
    )
    if lock:
        # PostgreSQL locks the row; on SQLite the write transaction starts here.
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def by_id(session: Session, secret_id: uuid.UUID) -> SecretRow | None:
    """The row ``secret_id`` (from the session's identity map when loaded)."""
    return await session.get(SecretRow, secret_id)


async def insert(session: Session, new: SecretRow) -> None:
    """Insert ``new`` now.

    Raises:
        Duplicate: A row of that customer, name and sharing exists.
    """
    session.add(new)
    with unique():
        await session.flush()


async def flush(session: Session) -> None:
    """Write the changed attributes of loaded rows now."""
    await session.flush()


async def delete(session: Session, old: SecretRow) -> None:
    """Delete the loaded row ``old`` now."""
    await session.delete(old)
    await session.flush()

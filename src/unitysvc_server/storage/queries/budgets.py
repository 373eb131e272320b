"""Queries of budgets (``domain.budgets``) and of what a budget's target names."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.budgets import BudgetRow
from unitysvc_server.storage.tables.collections import CollectionRow
from unitysvc_server.storage.tables.customers import ApiKeyRow

__all__ = [
    "collection_id",
    "delete",
    "flush_unique",
    "for_customer",
    "insert",
    "key_hints",
    "live_key_ids",
    "owned",
]


async def for_customer(session: Session, customer_id: uuid.UUID) -> Sequence[BudgetRow]:
    """Every budget of the customer, oldest first."""
    rows = await session.scalars(
        select(BudgetRow)
        .where(BudgetRow.customer_id == customer_id)
        .order_by(BudgetRow.created_at, BudgetRow.id)
    )
    return rows.all()


async def owned(session: Session, customer_id: uuid.UUID, budget_id: uuid.UUID) -> BudgetRow | None:
    """The customer's budget ``budget_id``, or ``None``."""
    return await session.scalar(
        select(BudgetRow).where(BudgetRow.id == budget_id, BudgetRow.customer_id == customer_id)
    )


async def key_hints(session: Session, key_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The listed hint of each of the API keys ``key_ids``."""
    found = await session.execute(
        select(ApiKeyRow.id, ApiKeyRow.hint).where(ApiKeyRow.id.in_(key_ids))
    )
    return {row.id: row.hint for row in found}


async def collection_id(session: Session, customer_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """The id of the customer's collection called ``name``, or ``None``."""
    return await session.scalar(
        select(CollectionRow.id).where(
            CollectionRow.customer_id == customer_id, CollectionRow.name == name
        )
    )


async def live_key_ids(
    session: Session,
    customer_id: uuid.UUID,
    *,
    key_hash: str | None = None,
    hint: str | None = None,
) -> list[uuid.UUID]:
    """The ids of the customer's unrevoked API keys with hash ``key_hash`` or listed with
    ``hint`` (give one)."""
    match = ApiKeyRow.key_hash == key_hash if key_hash is not None else ApiKeyRow.hint == hint
    return list(
        await session.scalars(
            select(ApiKeyRow.id).where(
                ApiKeyRow.customer_id == customer_id, ApiKeyRow.revoked_at.is_(None), match
            )
        )
    )


async def insert(session: Session, row: BudgetRow) -> None:
    """Add a new budget and flush it (:class:`Duplicate` on a taken name)."""
    session.add(row)
    with unique():
        await session.flush()


async def flush_unique(session: Session) -> None:
    """Flush the changes made to a loaded budget (:class:`Duplicate` on a taken name)."""
    with unique():
        await session.flush()


async def delete(session: Session, row: BudgetRow) -> None:
    """Delete a budget (its counters cascade) and flush."""
    await session.delete(row)
    await session.flush()

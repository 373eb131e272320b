"""Queries of ``Idempotency-Key`` claims (``domain.idempotency``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.idempotency import IdempotencyRow

__all__ = [
    "delete_abandoned",
    "delete_expired",
    "delete_unanswered",
    "insert",
    "row_since",
    "update_claim",
]


def _where(customer_id: uuid.UUID, key: str) -> Any:
    return (IdempotencyRow.customer_id == customer_id) & (IdempotencyRow.key == key)


async def row_since(
    session: Session, customer_id: uuid.UUID, key: str, since: datetime
) -> IdempotencyRow | None:
    """The customer's claim of ``key`` if it was made after ``since``."""
    return (
        await session.execute(
            select(IdempotencyRow).where(
                _where(customer_id, key), IdempotencyRow.created_at > since
            )
        )
    ).scalar_one_or_none()


async def delete_expired(session: Session, customer_id: uuid.UUID, before: datetime) -> None:
    """Delete the customer's claims made at or before ``before``."""
    await session.execute(
        delete(IdempotencyRow).where(
            IdempotencyRow.customer_id == customer_id,
            IdempotencyRow.created_at <= before,
        )
    )


async def insert(session: Session, row: IdempotencyRow) -> None:
    """Add a claim and flush it (:class:`Duplicate` when the key is already claimed)."""
    session.add(row)
    with unique():
        await session.flush()


async def delete_abandoned(session: Session, customer_id: uuid.UUID, key: str) -> None:
    """Delete the claim of ``key`` if it has neither a response nor committed work."""
    await session.execute(
        delete(IdempotencyRow).where(
            _where(customer_id, key),
            IdempotencyRow.status_code.is_(None),
            IdempotencyRow.work_committed_at.is_(None),
        )
    )


async def update_claim(
    session: Session, customer_id: uuid.UUID, key: str, fingerprint: str, **values: Any
) -> None:
    """Set ``values`` on the claim of ``key`` made for the request ``fingerprint``."""
    await session.execute(
        update(IdempotencyRow)
        .where(_where(customer_id, key), IdempotencyRow.fingerprint == fingerprint)
        .values(**values)
    )


async def delete_unanswered(
    session: Session, customer_id: uuid.UUID, key: str, fingerprint: str
) -> None:
    """Delete the claim of ``key`` for ``fingerprint`` if it has no response or committed work."""
    await session.execute(
        delete(IdempotencyRow).where(
            _where(customer_id, key),
            IdempotencyRow.fingerprint == fingerprint,
            IdempotencyRow.status_code.is_(None),
            IdempotencyRow.work_committed_at.is_(None),
        )
    )

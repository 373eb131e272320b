"""Queries of customers and their API keys (``domain.customers``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, bindparam, delete, select, update

from unitysvc_server.invalidation import Invalidation
from unitysvc_server.storage.base import Base
from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.customers import ApiKeyRow, CustomerRow

__all__ = [
    "by_name",
    "delete_customer",
    "delete_owned_rows",
    "hashes_by_hint",
    "id_by_name",
    "insert",
    "insert_key",
    "key_hashes",
    "keys_with_names",
    "live_key",
    "revoke_live_keys",
]


# Built once (bound parameter): every call that misses the key caches runs it.
_LIVE_KEY = (
    select(CustomerRow.id, CustomerRow.name, ApiKeyRow.id.label("key_id"))
    .join(ApiKeyRow, ApiKeyRow.customer_id == CustomerRow.id)
    .where(ApiKeyRow.key_hash == bindparam("key_hash"), ApiKeyRow.revoked_at.is_(None))
)


async def live_key(session: Session, key_hash: str) -> Row[uuid.UUID, str, uuid.UUID] | None:
    """``(id, name, key_id)`` of the customer holding the unrevoked key ``key_hash``."""
    result = await session.execute(_LIVE_KEY, {"key_hash": key_hash})
    return result.one_or_none()


async def by_name(session: Session, name: str) -> CustomerRow | None:
    """The customer row named ``name``."""
    result = await session.execute(select(CustomerRow).where(CustomerRow.name == name))
    return result.scalar_one_or_none()


async def id_by_name(session: Session, name: str) -> uuid.UUID | None:
    """The id of the customer named ``name``."""
    result = await session.execute(select(CustomerRow.id).where(CustomerRow.name == name))
    return result.scalar_one_or_none()


async def insert(session: Session, customer: CustomerRow) -> None:
    """Insert ``customer`` now.

    Raises:
        Duplicate: A customer of that name exists.
    """
    session.add(customer)
    with unique():
        await session.flush()


async def insert_key(session: Session, key: ApiKeyRow) -> None:
    """Insert ``key`` now."""
    session.add(key)
    await session.flush()


async def keys_with_names(
    session: Session, *, include_revoked: bool
) -> Sequence[Row[ApiKeyRow, str]]:
    """Every key (revoked ones unless excluded) with its customer's name, oldest first."""
    stmt = (
        select(ApiKeyRow, CustomerRow.name)
        .join(CustomerRow, ApiKeyRow.customer_id == CustomerRow.id)
        .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
    )
    if not include_revoked:
        stmt = stmt.where(ApiKeyRow.revoked_at.is_(None))
    return (await session.execute(stmt)).all()


async def key_hashes(session: Session, customer_id: uuid.UUID) -> Sequence[str]:
    """The hashes of every key of the customer, revoked ones included."""
    hashes = await session.scalars(
        select(ApiKeyRow.key_hash).where(ApiKeyRow.customer_id == customer_id)
    )
    return hashes.all()


async def hashes_by_hint(session: Session, hint: str) -> Sequence[str]:
    """The hashes of the keys listed with ``hint``."""
    result = await session.execute(select(ApiKeyRow.key_hash).where(ApiKeyRow.hint == hint))
    return result.scalars().all()


async def revoke_live_keys(
    session: Session,
    now: datetime,
    invalidates: Sequence[Invalidation],
    *,
    customer_id: uuid.UUID | None = None,
    key_hash: str | None = None,
) -> int:
    """Revoke the unrevoked keys of ``customer_id`` (or the one of ``key_hash``); how many.

    ``invalidates`` are published once the transaction commits.
    """
    stmt = update(ApiKeyRow).where(ApiKeyRow.revoked_at.is_(None)).values(revoked_at=now)
    if customer_id is not None:
        stmt = stmt.where(ApiKeyRow.customer_id == customer_id)
    if key_hash is not None:
        stmt = stmt.where(ApiKeyRow.key_hash == key_hash)
    result = await session.execute(stmt, execution_options={"invalidates": list(invalidates)})
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_owned_rows(
    session: Session, customer_id: uuid.UUID, invalidates: Sequence[Invalidation]
) -> dict[str, int]:
    """Delete the customer's rows from every table with a ``customer_id``; count per table.

    Children of those rows go by their foreign keys' cascade (not counted); the
    customer row itself stays (:func:`delete_customer`).
    """
    options = {"invalidates": list(invalidates)}
    rows: dict[str, int] = {}
    for table in reversed(Base.metadata.sorted_tables):
        column = table.c.get("customer_id")
        if column is None or table.name == CustomerRow.__tablename__:
            continue
        result = await session.execute(
            delete(table).where(column == customer_id), execution_options=options
        )
        rows[table.name] = int(getattr(result, "rowcount", 0) or 0)
    return rows


async def delete_customer(
    session: Session, customer_id: uuid.UUID, invalidates: Sequence[Invalidation]
) -> None:
    """Delete the customer row ``customer_id``."""
    await session.execute(
        delete(CustomerRow).where(CustomerRow.id == customer_id),
        execution_options={"invalidates": list(invalidates)},
    )

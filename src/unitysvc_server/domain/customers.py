"""Customers, their API keys, and authentication by key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from unitysvc_server.clock import utcnow
from unitysvc_server.crypto import API_KEY_PREFIX, api_key_hint, hash_api_key, new_api_key
from unitysvc_server.domain.errors import NotFound, Unprocessable
from unitysvc_server.domain.files import customer_root
from unitysvc_server.domain.request_logs import log_body_root
from unitysvc_server.invalidation import Invalidation
from unitysvc_server.storage.base import Base
from unitysvc_server.storage.objects import ObjectStore
from unitysvc_server.storage.tables.customers import ApiKeyRow, CustomerRow

MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class Customer:
    """The authenticated caller of a request."""

    id: uuid.UUID
    name: str
    #: The API key the caller authenticated with (None where no key is involved).
    key_id: uuid.UUID | None = None


@dataclass(frozen=True)
class KeyInfo:
    """One API key as ``keys list`` shows it (never the key itself)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str
    hint: str
    created_at: datetime
    revoked_at: datetime | None


def looks_like_key(token: str) -> bool:
    """Whether ``token`` has the shape of a customer key (``svcpass_`` + text)."""
    return token.startswith(API_KEY_PREFIX) and len(token) > len(API_KEY_PREFIX)


async def authenticate(session: AsyncSession, key: str) -> Customer | None:
    """Return the customer owning the live key ``key``, or None.

    One indexed lookup by the key's hash; revoked keys do not authenticate.
    """
    if not looks_like_key(key):
        return None
    row = (
        await session.execute(
            select(CustomerRow.id, CustomerRow.name, ApiKeyRow.id.label("key_id"))
            .join(ApiKeyRow, ApiKeyRow.customer_id == CustomerRow.id)
            .where(ApiKeyRow.key_hash == hash_api_key(key), ApiKeyRow.revoked_at.is_(None))
        )
    ).one_or_none()
    return None if row is None else Customer(id=row.id, name=row.name, key_id=row.key_id)


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise Unprocessable(("name",), f"must be 1-{MAX_NAME_LENGTH} characters, e.g. 'alice'")
    return cleaned


async def create_key(session: AsyncSession, name: str) -> tuple[Customer, str]:
    """Issue a new key for the customer ``name``, creating the customer if needed.

    A customer may hold several keys (rotation: create a new one, then revoke
    the old). Returns the customer and the key in clear -- the only time it is
    available; only its hash is stored.
    """
    name = _check_name(name)
    customer = (
        await session.execute(select(CustomerRow).where(CustomerRow.name == name))
    ).scalar_one_or_none()
    if customer is None:
        customer = CustomerRow(name=name)
        session.add(customer)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            # Created concurrently by another writer: use that row.
            customer = (
                await session.execute(select(CustomerRow).where(CustomerRow.name == name))
            ).scalar_one()
    key = new_api_key()
    session.add(
        ApiKeyRow(customer_id=customer.id, key_hash=hash_api_key(key), hint=api_key_hint(key))
    )
    await session.flush()
    return Customer(id=customer.id, name=customer.name), key


async def list_keys(session: AsyncSession, *, include_revoked: bool = True) -> list[KeyInfo]:
    """Every key with its customer, oldest first."""
    stmt = (
        select(ApiKeyRow, CustomerRow.name)
        .join(CustomerRow, ApiKeyRow.customer_id == CustomerRow.id)
        .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
    )
    if not include_revoked:
        stmt = stmt.where(ApiKeyRow.revoked_at.is_(None))
    return [
        KeyInfo(
            id=key.id,
            customer_id=key.customer_id,
            customer_name=name,
            hint=key.hint,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )
        for key, name in (await session.execute(stmt)).all()
    ]


async def _key_invalidations(session: AsyncSession, customer_id: uuid.UUID) -> list[Invalidation]:
    """One invalidation per key of the customer: caches of keys by hash
    (:class:`~unitysvc_server.domain.key_cache.KeyCache`) drop exactly those."""
    hashes = await session.scalars(
        select(ApiKeyRow.key_hash).where(ApiKeyRow.customer_id == customer_id)
    )
    return [Invalidation.key(key_hash) for key_hash in hashes]


async def revoke(session: AsyncSession, *, key: str | None = None, name: str | None = None) -> int:
    """Revoke one key (given in full or by its listed hint) or every key of a customer.

    Returns:
        How many keys were revoked (already-revoked keys are not counted).

    Raises:
        NotFound: Nothing matches.
        Unprocessable: Neither or both of ``key`` and ``name`` were given, or the
            hint matches several keys.
    """
    if (key is None) == (name is None):
        raise Unprocessable(("key",), "give exactly one of a key (or its hint) and a name")
    stmt = update(ApiKeyRow).where(ApiKeyRow.revoked_at.is_(None)).values(revoked_at=utcnow())
    invalidates: list[Invalidation]
    if name is not None:
        customer_id = (
            await session.execute(select(CustomerRow.id).where(CustomerRow.name == name))
        ).scalar_one_or_none()
        if customer_id is None:
            raise NotFound(f"customer {name!r} not found")
        stmt = stmt.where(ApiKeyRow.customer_id == customer_id)
        invalidates = [
            Invalidation.customer(customer_id),
            *await _key_invalidations(session, customer_id),
        ]
    else:
        assert key is not None
        if looks_like_key(key) and len(key) > len(api_key_hint(key)):
            key_hash = hash_api_key(key)
        else:
            matches = (
                (await session.execute(select(ApiKeyRow.key_hash).where(ApiKeyRow.hint == key)))
                .scalars()
                .all()
            )
            if len(matches) > 1:
                raise Unprocessable(
                    ("key",), f"hint {key!r} matches several keys; pass the full key"
                )
            if not matches:
                raise NotFound(f"no key matches {key!r}")
            key_hash = matches[0]
        stmt = stmt.where(ApiKeyRow.key_hash == key_hash)
        invalidates = [Invalidation.key(key_hash)]
    # Every server process drops the key from its cache once this commits.
    result = await session.execute(stmt, execution_options={"invalidates": invalidates})
    count = int(getattr(result, "rowcount", 0) or 0)
    if count == 0 and key is not None and looks_like_key(key) and len(key) > len(api_key_hint(key)):
        raise NotFound("no live key matches the given key")
    return count


@dataclass(frozen=True)
class DeletedCustomer:
    """What :func:`delete_customer` removed.

    Attributes:
        id: The customer's id.
        name: The customer's name.
        rows: Rows deleted per table (children removed by cascade not counted).
    """

    id: uuid.UUID
    name: str
    rows: dict[str, int]


async def delete_customer(session: AsyncSession, name: str) -> DeletedCustomer:
    """Delete customer ``name`` and every row it owns, in the caller's transaction.

    Every table with a ``customer_id`` column is emptied of the customer's rows (tables
    added later included); rows hanging off those (chain steps, broadcast targets,
    collection members) go by their foreign keys' cascade. Once committed, every server
    process drops what it cached for the customer, so its keys are refused at once.
    Stored objects (files, logged bodies) are the caller's to remove, after the commit
    (:func:`remove_customer_objects`).

    Raises:
        NotFound: No customer has that name.
    """
    customer_id = (
        await session.execute(select(CustomerRow.id).where(CustomerRow.name == name))
    ).scalar_one_or_none()
    if customer_id is None:
        raise NotFound(f"customer {name!r} not found")
    rows: dict[str, int] = {}
    named = [Invalidation.customer(customer_id), *await _key_invalidations(session, customer_id)]
    invalidates = {"invalidates": named}
    for table in reversed(Base.metadata.sorted_tables):
        column = table.c.get("customer_id")
        if column is None or table.name == CustomerRow.__tablename__:
            continue
        result = await session.execute(
            delete(table).where(column == customer_id), execution_options=invalidates
        )
        rows[table.name] = int(getattr(result, "rowcount", 0) or 0)
    await session.execute(
        delete(CustomerRow).where(CustomerRow.id == customer_id), execution_options=invalidates
    )
    return DeletedCustomer(customer_id, name, rows)


def remove_customer_objects(store: ObjectStore, customer_id: uuid.UUID) -> int:
    """Delete a customer's stored objects (files, logged bodies); returns how many."""
    return sum(
        store.delete_tree(prefix)
        for prefix in (customer_root(customer_id), log_body_root(customer_id))
    )

"""Customers, their API keys, and authentication by key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from unitysvc_server.clock import utcnow
from unitysvc_server.crypto import API_KEY_PREFIX, api_key_hint, hash_api_key, new_api_key
from unitysvc_server.domain.errors import NotFound, Unprocessable
from unitysvc_server.domain.files import customer_root
from unitysvc_server.domain.request_logs import log_body_root
from unitysvc_server.invalidation import Invalidation
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.objects import ObjectStore
from unitysvc_server.storage.queries import customers as queries
from unitysvc_server.storage.session import Session, Sessions
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


async def authenticate(session: Session, key: str) -> Customer | None:
    """Return the customer owning the live key ``key``, or None.

    One indexed lookup by the key's hash; revoked keys do not authenticate.
    """
    if not looks_like_key(key):
        return None
    row = await queries.live_key(session, hash_api_key(key))
    return None if row is None else Customer(id=row.id, name=row.name, key_id=row.key_id)


async def authenticate_with(sessions: Sessions, key: str) -> Customer | None:
    """:func:`authenticate` in a session of its own (the gateway holds no request session)."""
    if not looks_like_key(key):
        return None
    async with sessions() as session:
        return await authenticate(session, key)


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise Unprocessable(("name",), f"must be 1-{MAX_NAME_LENGTH} characters, e.g. 'alice'")
    return cleaned


async def create_key(session: Session, name: str) -> tuple[Customer, str]:
    """Issue a new key for the customer ``name``, creating the customer if needed.

    A customer may hold several keys (rotation: create a new one, then revoke
    the old). Returns the customer and the key in clear -- the only time it is
    available; only its hash is stored.
    """
    name = _check_name(name)
    customer = await queries.by_name(session, name)
    if customer is None:
        customer = CustomerRow(name=name)
        try:
            async with session.begin_nested():
                await queries.insert(session, customer)
        except Duplicate:
            # Created concurrently by another writer: use that row.
            customer = await queries.by_name(session, name)
            assert customer is not None, "a duplicate customer name names a row"
    key = new_api_key()
    await queries.insert_key(
        session,
        ApiKeyRow(customer_id=customer.id, key_hash=hash_api_key(key), hint=api_key_hint(key)),
    )
    return Customer(id=customer.id, name=customer.name), key


async def list_keys(session: Session, *, include_revoked: bool = True) -> list[KeyInfo]:
    """Every key with its customer, oldest first."""
    return [
        KeyInfo(
            id=key.id,
            customer_id=key.customer_id,
            customer_name=name,
            hint=key.hint,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )
        for key, name in await queries.keys_with_names(session, include_revoked=include_revoked)
    ]


async def _key_invalidations(session: Session, customer_id: uuid.UUID) -> list[Invalidation]:
    """One invalidation per key of the customer: caches of keys by hash
    (:class:`~unitysvc_server.domain.key_cache.KeyCache`) drop exactly those."""
    return [
        Invalidation.key(key_hash) for key_hash in await queries.key_hashes(session, customer_id)
    ]


async def revoke(session: Session, *, key: str | None = None, name: str | None = None) -> int:
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
    now = utcnow()
    invalidates: list[Invalidation]
    customer_id: uuid.UUID | None = None
    key_hash: str | None = None
    if name is not None:
        customer_id = await queries.id_by_name(session, name)
        if customer_id is None:
            raise NotFound(f"customer {name!r} not found")
        invalidates = [
            Invalidation.customer(customer_id),
            *await _key_invalidations(session, customer_id),
        ]
    else:
        assert key is not None
        if looks_like_key(key) and len(key) > len(api_key_hint(key)):
            key_hash = hash_api_key(key)
        else:
            matches = await queries.hashes_by_hint(session, key)
            if len(matches) > 1:
                raise Unprocessable(
                    ("key",), f"hint {key!r} matches several keys; pass the full key"
                )
            if not matches:
                raise NotFound(f"no key matches {key!r}")
            key_hash = matches[0]
        invalidates = [Invalidation.key(key_hash)]
    # Every server process drops the key from its cache once this commits.
    count = await queries.revoke_live_keys(
        session, now, invalidates, customer_id=customer_id, key_hash=key_hash
    )
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


async def delete_customer(session: Session, name: str) -> DeletedCustomer:
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
    customer_id = await queries.id_by_name(session, name)
    if customer_id is None:
        raise NotFound(f"customer {name!r} not found")
    named = [Invalidation.customer(customer_id), *await _key_invalidations(session, customer_id)]
    rows = await queries.delete_owned_rows(session, customer_id, named)
    await queries.delete_customer(session, customer_id, named)
    return DeletedCustomer(customer_id, name, rows)


def remove_customer_objects(store: ObjectStore, customer_id: uuid.UUID) -> int:
    """Delete a customer's stored objects (files, logged bodies); returns how many."""
    return sum(
        store.delete_tree(prefix)
        for prefix in (customer_root(customer_id), log_body_root(customer_id))
    )

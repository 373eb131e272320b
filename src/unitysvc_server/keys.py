"""Customer and key administration outside a running server (CLI, test helper).

Each function opens its own engine on the configured database, migrates it (so keys
can be created before the first server start) and closes it again. Changes that
running servers cache (a revoked key, a deleted customer) are published on the same
invalidation bus the servers listen to (:mod:`unitysvc_server.invalidation`), and the
function returns only once they have been told: the next request any server serves
with a revoked key is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from unitysvc_server.config import Settings
from unitysvc_server.domain import customers
from unitysvc_server.domain.customers import DeletedCustomer, KeyInfo
from unitysvc_server.invalidation import make_bus
from unitysvc_server.storage import db
from unitysvc_server.storage.objects import ObjectStore
from unitysvc_server.storage.session import Session


@asynccontextmanager
async def _transaction(settings: Settings) -> AsyncIterator[Session]:
    """One committed transaction whose invalidations reach every server before exit."""
    engine = db.engine_for(settings)
    bus = make_bus(settings.resolved_database_url, settings.redis_url)
    try:
        await db.migrate(engine)
        # Listening too: a publish returns once its own message came back.
        await bus.start()
        async with db.make_sessionmaker(engine, bus)() as session, session.begin():
            yield session
        await bus.flush()
    finally:
        await bus.close()
        await engine.dispose()


async def create_key(settings: Settings, name: str) -> str:
    """Issue a key for customer ``name`` (created if new); return it in clear.

    Nothing cached can be stale about a new key, so no server needs telling.
    """
    engine = db.engine_for(settings)
    try:
        await db.migrate(engine)
        async with db.make_sessionmaker(engine)() as session, session.begin():
            _, key = await customers.create_key(session, name)
        return key
    finally:
        await engine.dispose()


async def list_keys(settings: Settings) -> list[KeyInfo]:
    """Every key (live and revoked) with its customer."""
    engine = db.engine_for(settings)
    try:
        await db.migrate(engine)
        async with db.make_sessionmaker(engine)() as session:
            return await customers.list_keys(session)
    finally:
        await engine.dispose()


async def revoke(settings: Settings, *, key: str | None = None, name: str | None = None) -> int:
    """Revoke a key (full key or listed hint) or all keys of customer ``name``."""
    async with _transaction(settings) as session:
        count = await customers.revoke(session, key=key, name=name)
    return count


async def delete_customer(settings: Settings, name: str) -> DeletedCustomer:
    """Delete customer ``name``: its keys, every row it owns and its stored objects."""
    async with _transaction(settings) as session:
        deleted = await customers.delete_customer(session, name)
    customers.remove_customer_objects(ObjectStore.for_data_dir(settings.data_dir), deleted.id)
    return deleted

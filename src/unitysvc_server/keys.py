"""Customer key administration outside a running server (CLI, test helper).

Each function opens its own engine on the configured database, migrates it
(so keys can be created before the first server start) and closes it again.
"""

from __future__ import annotations

from unitysvc_server.config import Settings
from unitysvc_server.domain import customers
from unitysvc_server.domain.customers import KeyInfo
from unitysvc_server.storage import db


async def create_key(settings: Settings, name: str) -> str:
    """Issue a key for customer ``name`` (created if new); return it in clear."""
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
    engine = db.engine_for(settings)
    try:
        await db.migrate(engine)
        async with db.make_sessionmaker(engine)() as session, session.begin():
            return await customers.revoke(session, key=key, name=name)
    finally:
        await engine.dispose()

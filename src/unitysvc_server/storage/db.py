"""Database engine, sessions and schema migration.

One code path serves SQLite (the embedded default, via aiosqlite) and
PostgreSQL (via asyncpg); only the connection set-up differs.

SQLite pragmas, set on every new connection:

* ``journal_mode=WAL`` -- readers never block the writer and vice versa.
* ``synchronous=FULL`` -- in WAL mode ``NORMAL`` already survives a killed
  process (the WAL is written with ``write()`` before COMMIT returns), but can
  lose the last commits on an OS crash or power cut. A response of 200/201 is a
  promise that the write is durable, so every commit fsyncs the WAL. The cost is
  one fsync per write transaction; reads are unaffected.
* ``foreign_keys=ON`` -- SQLite ignores FOREIGN KEY clauses otherwise.
* ``busy_timeout`` -- the CLI (``keys create``) and the server may write the
  same file at once; wait for the lock instead of failing with "database is
  locked".

Transactions on SQLite: the driver starts a transaction at the first write
statement (reads before it run in autocommit). This is deliberate: a
``BEGIN`` that reads first and writes later would fail immediately with
``SQLITE_BUSY`` whenever another writer committed in between, whatever the
busy timeout; starting at the first write lets the busy timeout queue writers.
Every write of a request still commits or rolls back as one unit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from unitysvc_server.config import Settings
from unitysvc_server.invalidation import BUS_INFO_KEY, InvalidationBus, install_session_hooks

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url`` with the platform's connection set-up.

    Args:
        url: ``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``.
        **kwargs: Passed to :func:`sqlalchemy.ext.asyncio.create_async_engine`.
    """
    parsed = make_url(url)
    # Bound parameters (key hashes, encrypted values, bodies) must never end up
    # in exception messages or logs.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def engine_for(settings: Settings) -> AsyncEngine:
    """Create the engine described by ``settings``."""
    return create_engine(settings.resolved_database_url)


def make_sessionmaker(
    engine: AsyncEngine, bus: InvalidationBus | None = None
) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; objects stay usable after commit.

    Args:
        engine: The engine.
        bus: Where the sessions' commits publish cache invalidations (see
            :func:`unitysvc_server.invalidation.watch_tables`); none when ``None``.
    """
    info = None
    if bus is not None:
        info = {BUS_INFO_KEY: bus}
        install_session_hooks()
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True, info=info)


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic config pointing at the packaged migrations."""
    # Alembic is imported when a migration runs, not with the server (its import
    # costs ~0.15 s of every ``usvc server``/``usvc demo`` start-up otherwise).
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # '%' would be taken for interpolation by ConfigParser.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the database schema of ``engine`` to the newest revision."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_head)


def _upgrade_head(sync_connection: Any) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


async def dispose(engine: AsyncEngine) -> None:
    """Close every pooled connection of ``engine``."""
    await engine.dispose()


async def ping(connection: AsyncConnection) -> None:
    """Run a trivial statement (health checks)."""
    await connection.exec_driver_sql("SELECT 1")

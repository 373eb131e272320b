"""Database engine, sessions and schema migration.

One code path serves SQLite (the embedded default, via aiosqlite) and
PostgreSQL (via asyncpg); only the connection set-up differs.

SQLite pragmas, set on every new connection:

* ``journal_mode=WAL`` -- readers never block the writer and vice versa.
* ``synchronous=NORMAL`` -- in WAL mode a commit is written to the WAL with
  ``write()`` before COMMIT returns, so it survives a killed process; only an OS
  crash or power cut can lose the last commits (never corrupt the file). ``FULL``
  fsynced every commit, which made each write wait on the disk while holding
  the write lock (see docs/decisions.md, "Storage: SQLite durability and
  transactions").
* ``foreign_keys=ON`` -- SQLite ignores FOREIGN KEY clauses otherwise.
* ``busy_timeout`` -- the CLI (``keys create``) and other server processes may
  write the same file at once; wait for the lock instead of failing with
  "database is locked".

Writes on SQLite go through one connection per process (:func:`sqlite_writer`):
a session reads on the pooled connections, in autocommit, until its first write
(a flush, an ``INSERT``/``UPDATE``/``DELETE``, a ``SELECT ... FOR UPDATE``);
from then on until its commit it uses the writer, whose transactions start
with ``BEGIN IMMEDIATE``. Writers of one process therefore queue on the
writer's pool (first come, first served, no polling) instead of in SQLite's
busy handler, which sleeps in growing steps up to 100 ms and made the write
tail; a transaction never starts as a read and fails to upgrade with
``SQLITE_BUSY``; and reads never wait on writers. The readers' statements run on
the event loop's thread, the writer's on the driver's
(:class:`~unitysvc_server.storage.sqlite_driver.InlineConnection` says why).
PostgreSQL keeps one pool.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from unitysvc_server.config import Settings
from unitysvc_server.invalidation import BUS_INFO_KEY, InvalidationBus, install_session_hooks
from unitysvc_server.storage.sqlite_driver import long_read, run_inline, use_one_trip_cursors

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: PostgreSQL connections a process keeps open (as many again may open for a burst).
POOL_SIZE = 16
#: SQLite connections a process keeps open for reading.
SQLITE_READERS = 32
#: How long a write waits for this process's SQLite writer connection.
SQLITE_WRITER_WAIT_SECONDS = 60.0
#: A PostgreSQL connection idle in the pool longer than this is pinged before it is used.
PING_IDLE_SECONDS = 10.0
_RETURNED_AT = "unitysvc.returned_at"
#: ``session.info`` key of the SQLite writer engine (see :class:`RoutingSession`).
WRITER_INFO_KEY = "unitysvc.sqlite_writer"
_WRITING_INFO_KEY = "unitysvc.sqlite_writing"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
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
        event.listen(engine.sync_engine, "connect", use_one_trip_cursors)
        return engine
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "checkout", _check_alive)
    event.listen(engine.sync_engine, "checkin", _note_return)
    return engine


def _note_return(_dbapi_connection: Any, record: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _check_alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Refuse a dead pooled PostgreSQL connection (the pool then opens a new one).

    A connection the server closed (a restart, ``pg_terminate_backend``, an idle
    timeout) is known closed without a round trip: asyncpg saw the end of its socket
    while it sat in the pool. Only one idle for longer than :data:`PING_IDLE_SECONDS`
    (which a middlebox may have dropped silently) is pinged. SQLAlchemy's
    ``pool_pre_ping`` pinged every checkout instead: three round trips (``BEGIN``, a
    statement, ``ROLLBACK``) before each request's own, most of a read's driver work.
    """
    driver = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the pooled PostgreSQL connection was closed")
    returned = record.info.get(_RETURNED_AT)
    if is_closed is None or (
        returned is not None and time.monotonic() - returned > PING_IDLE_SECONDS
    ):
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("the pooled PostgreSQL connection did not answer") from exc


def engine_for(settings: Settings) -> AsyncEngine:
    """Create the engine described by ``settings``."""
    return create_engine(settings.resolved_database_url)


def engines_for(settings: Settings) -> tuple[AsyncEngine, AsyncEngine | None]:
    """A process's engines: ``(pool, writer)``; the writer on SQLite files only.

    With a writer, the pool's connections only ever read: they run in the driver's
    autocommit mode and skip the ``ROLLBACK`` SQLAlchemy would send through the driver's
    thread each time one returns to the pool.
    """
    url = settings.resolved_database_url
    writer = sqlite_writer(url)
    if writer is None and make_url(url).get_backend_name() == "postgresql":
        # Kept open (opened on demand): an overflow connection is closed on return, and
        # PostgreSQL starts a backend process for each new one.
        return create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_SIZE), None
    if writer is None:  # in-memory SQLite: one static connection
        return create_engine(url), None
    # Connections kept open for the busiest moments: beyond the pool SQLAlchemy opens
    # overflow connections and closes them on return, and opening one (a thread, the
    # file, the pragmas) cost more than the reads it served.
    readers = create_engine(
        url,
        skip_autocommit_rollback=True,
        pool_size=SQLITE_READERS,
        max_overflow=SQLITE_READERS,
        # Used from the event loop's thread, opened and closed on the driver's.
        connect_args={"check_same_thread": False},
    )
    event.listen(readers.sync_engine, "connect", _autocommit_driver)
    event.listen(readers.sync_engine, "connect", run_inline)
    return readers, writer


def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is off: the readers run in autocommit, and the
    # writer's BEGIN IMMEDIATE comes from _begin_immediate (the recipe of SQLAlchemy's
    # aiosqlite documentation).
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    # A commit that crosses the WAL's size limit would checkpoint (and fsync the
    # database) while holding the write lock: every queued writer would wait on the
    # disk. :func:`checkpoint` does it beside the writer instead.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    finally:
        cursor.close()


async def checkpoint(engine: AsyncEngine) -> None:
    """Copy the WAL's committed pages into the SQLite database file (``PASSIVE``: never
    waits for, nor blocks, readers and the writer)."""
    # Off the event loop's thread: it copies pages and syncs the file.
    with long_read():
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def sqlite_writer(url: str) -> AsyncEngine | None:
    """The one-connection engine a process writes a SQLite file through; ``None`` for
    PostgreSQL and in-memory SQLite (see the module docs).

    Its transactions begin with ``BEGIN IMMEDIATE``: the write lock is taken at once,
    so a transaction cannot read and then fail to become a writer. Its commits never
    checkpoint the WAL: the process runs :func:`checkpoint` periodically instead.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    engine = create_engine(
        url, pool_size=1, max_overflow=0, pool_timeout=SQLITE_WRITER_WAIT_SECONDS
    )
    event.listen(engine.sync_engine, "connect", _autocommit_driver)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    event.listen(engine.sync_engine, "connect", _no_autocheckpoint)
    return engine


def _is_write(clause: Any) -> bool:
    if clause is None:
        return False
    if isinstance(clause, Select):
        return clause._for_update_arg is not None
    # INSERT/UPDATE/DELETE, and text whose effect cannot be known.
    return True


class RoutingSession(Session):
    """A session that reads on the pool and writes through the SQLite writer.

    From its first write (a flush, a DML statement, a locking ``SELECT``) to the end
    of its transaction every statement goes to the writer, so the request reads its
    own writes; before that, reads run in autocommit on the pooled connections. A
    session made without a writer (PostgreSQL) binds as usual.
    """

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
        """The writer once this transaction writes, else the session's engine."""
        writer: Engine | None = self.info.get(WRITER_INFO_KEY)
        if writer is not None and (
            self.info.get(_WRITING_INFO_KEY) or self._flushing or _is_write(clause)
        ):
            self.info[_WRITING_INFO_KEY] = True
            return writer
        return super().get_bind(mapper=mapper, clause=clause, **kw)


def _transaction_ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_WRITING_INFO_KEY, None)


event.listen(RoutingSession, "after_transaction_end", _transaction_ended)


def make_sessionmaker(
    engine: AsyncEngine,
    bus: InvalidationBus | None = None,
    writer: AsyncEngine | None = None,
) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; objects stay usable after commit.

    Args:
        engine: The engine.
        bus: Where the sessions' commits publish cache invalidations (see
            :func:`unitysvc_server.invalidation.watch_tables`); none when ``None``.
        writer: SQLite's writer engine (:func:`sqlite_writer`): the sessions write
            through it and read on ``engine``.
    """
    info: dict[Any, Any] = {}
    if bus is not None:
        info[BUS_INFO_KEY] = bus
        install_session_hooks()
    if writer is not None:
        info[WRITER_INFO_KEY] = writer.sync_engine
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        autoflush=True,
        info=info or None,
        sync_session_class=RoutingSession,
    )


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

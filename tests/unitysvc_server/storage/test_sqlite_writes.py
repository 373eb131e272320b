"""Writes on SQLite: one writer per process, ``BEGIN IMMEDIATE``, reads beside it.

Against a real server: concurrent writes all succeed (a PUT of one new name by many
callers at once is one insert and updates, on SQLite and PostgreSQL), and reads answer
while another process holds the database's write lock. Then the session's routing itself,
on a SQLite file: reads on the pool, the transaction's statements on the writer from its
first write on, which begins with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from unitysvc_server.config import Settings
from unitysvc_server.storage import db
from unitysvc_server.storage.sqlite_driver import long_read
from unitysvc_server.storage.tables.secrets import SecretRow
from unitysvc_server.testing import LocalPlatform, fresh_postgres_database, run_sync


def _put_concurrently(platform: LocalPlatform, key: str, names: int, each: int) -> list[int]:
    async def run() -> list[int]:
        async with httpx.AsyncClient(
            base_url=platform.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as client:
            responses = await asyncio.gather(
                *(
                    client.put(f"/secrets/RACE_{i % names}", json={"value": f"v{i}"})
                    for i in range(names * each)
                )
            )
        return [r.status_code for r in responses]

    return run_sync(run())


def _sqlite_platform(tmp_path: Path) -> LocalPlatform:
    """A platform on a SQLite file, even when the run puts platforms on PostgreSQL."""
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    return LocalPlatform(data_dir=data, database_url=f"sqlite+aiosqlite:///{data / 'usvc.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalPlatform]:
    if request.param == "sqlite":
        with _sqlite_platform(tmp_path) as platform:
            yield platform
        return
    server = request.getfixturevalue("postgres_server_url")
    with (
        fresh_postgres_database(server) as url,
        LocalPlatform(data_dir=tmp_path / "data", database_url=url) as platform,
    ):
        yield platform


def test_concurrent_puts_of_new_names_insert_once_and_update(any_platform: LocalPlatform) -> None:
    key = any_platform.create_customer("writers")
    statuses = _put_concurrently(any_platform, key, names=4, each=12)
    assert collections.Counter(statuses) == {201: 4, 200: 44}
    with any_platform.http(key) as api:
        listed = api.get("/secrets/").json()
    assert sorted(s["name"] for s in listed["data"]) == [f"RACE_{i}" for i in range(4)]


def _database_file(platform: LocalPlatform) -> str:
    url = make_url(platform.database_url)
    assert url.get_backend_name() == "sqlite" and url.database, platform.database_url
    return url.database


def test_reads_answer_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    with _sqlite_platform(tmp_path) as platform:
        key = platform.create_customer("reader")
        with platform.http(key) as api:
            assert api.put("/secrets/BEFORE", json={"value": "x"}).status_code == 201
            holder = sqlite3.connect(_database_file(platform), isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # what another server or the CLI may hold
            put: dict[str, Any] = {}

            def write() -> None:
                with platform.http(key) as writer:
                    put["response"] = writer.put("/secrets/DURING", json={"value": "y"})

            thread = threading.Thread(target=write)
            thread.start()
            try:
                # Well inside the 10 s busy timeout the writer waits for.
                listed = api.get("/secrets/", timeout=5)
                assert listed.status_code == 200
                assert [s["name"] for s in listed.json()["data"]] == ["BEFORE"]
                assert api.get("/secrets/BEFORE", timeout=5).status_code == 200
                assert "response" not in put  # still waiting for the lock
            finally:
                holder.execute("ROLLBACK")
                holder.close()
                thread.join(30)
            assert put["response"].status_code == 201, put["response"].text
            assert api.get("/secrets/DURING").status_code == 200


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'routing.db'}"

    async def create() -> None:
        engine = db.create_engine(url)
        await db.migrate(engine)
        await engine.dispose()

    run_sync(create())
    return url


def test_sessions_read_on_the_pool_and_write_through_the_writer(sqlite_file: str) -> None:
    seen: list[tuple[str, str]] = []

    async def run() -> None:
        engine = db.create_engine(sqlite_file)
        writer = db.sqlite_writer(sqlite_file)
        assert writer is not None
        for name, target in (("pool", engine), ("writer", writer)):
            event.listen(
                target.sync_engine,
                "before_cursor_execute",
                lambda _c, _cur, statement, *_a, name=name: seen.append(
                    (name, statement.split()[0] + " " + statement.split()[1])
                ),
            )
        sessions = db.make_sessionmaker(engine, writer=writer)
        try:
            async with sessions() as session:
                await session.scalar(select(SecretRow).limit(1))
                await session.execute(update(SecretRow).values(description="d"))
                await session.scalar(select(SecretRow).limit(1))  # its own writes
                await session.commit()
                await session.scalar(select(SecretRow).limit(1))  # a new transaction
        finally:
            await engine.dispose()
            await writer.dispose()

    run_sync(run())
    assert seen == [
        ("pool", "SELECT secrets.customer_id,"),
        ("writer", "BEGIN IMMEDIATE"),
        ("writer", "UPDATE secrets"),
        ("writer", "SELECT secrets.customer_id,"),
        ("pool", "SELECT secrets.customer_id,"),
    ]


def test_postgresql_and_memory_have_no_writer() -> None:
    assert db.sqlite_writer("postgresql+asyncpg://u@127.0.0.1/db") is None
    assert db.sqlite_writer("sqlite+aiosqlite:///:memory:") is None


def test_short_reads_run_on_the_loop_thread_long_reads_and_writes_on_the_driver_thread(
    tmp_path: Path,
) -> None:
    readers, writer = db.engines_for(Settings(data_dir=tmp_path))
    assert writer is not None
    ran_on: dict[str, int] = {}

    async def thread_of(engine: AsyncEngine) -> int:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.create_function("thread_id", 0, threading.get_ident)
            return int((await connection.exec_driver_sql("SELECT thread_id()")).scalar_one())

    async def run() -> None:
        try:
            ran_on["loop"] = threading.get_ident()
            ran_on["reader"] = await thread_of(readers)
            with long_read():
                ran_on["long read"] = await thread_of(readers)
            ran_on["after"] = await thread_of(readers)
            ran_on["writer"] = await thread_of(writer)
        finally:
            await readers.dispose()
            await writer.dispose()

    run_sync(run())
    assert ran_on["reader"] == ran_on["after"] == ran_on["loop"]
    # A read that may be long leaves the loop free, as the writer's statements do.
    assert ran_on["long read"] != ran_on["loop"]
    assert ran_on["writer"] != ran_on["loop"]


def test_the_wal_checkpoint_copies_the_writes_off_the_loop_thread(tmp_path: Path) -> None:
    readers, writer = db.engines_for(Settings(data_dir=tmp_path))
    assert writer is not None
    seen: dict[str, object] = {}

    async def run() -> None:
        try:
            async with writer.begin() as connection:
                await connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
                for n in range(20):
                    await connection.exec_driver_sql(f"INSERT INTO t VALUES ({n})")
            async with readers.connect() as connection:
                raw = (await connection.get_raw_connection()).driver_connection
                assert raw is not None

                def trace(statement: str) -> None:
                    if "wal_checkpoint" in statement:
                        seen.setdefault("thread", threading.get_ident())

                # The driver's sqlite3 connection: its callback runs where the statement does.
                raw._conn.set_trace_callback(trace)
            seen["loop"] = threading.get_ident()
            await db.checkpoint(readers)
            async with readers.connect() as connection:
                done = await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                seen["after"] = tuple(done.one())
        finally:
            await readers.dispose()
            await writer.dispose()

    run_sync(run())
    assert seen["thread"] != seen["loop"]
    busy, in_wal, copied = seen["after"]  # type: ignore[misc]
    assert busy == 0 and in_wal == copied  # every committed page is in the database file

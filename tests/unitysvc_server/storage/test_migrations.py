"""The Alembic migrations match the ORM metadata, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from unitysvc_server.storage import tables  # noqa: F401  (registers every table)
from unitysvc_server.storage.base import Base
from unitysvc_server.storage.db import MIGRATIONS_DIR, create_engine, migrate
from unitysvc_server.testing import fresh_postgres_database, run_sync


async def _diff(url: str) -> tuple[list[Any], set[str]]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        await migrate(engine)  # idempotent: a second start changes nothing
        async with engine.connect() as conn:

            def compare(sync_conn: Any) -> tuple[list[Any], set[str]]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(context, Base.metadata), set(
                    inspect(sync_conn).get_table_names()
                )

            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


def _assert_matches(url: str) -> None:
    diff, names = run_sync(_diff(url))
    assert diff == [], (
        "the migration differs from the tables; run `python scripts/regen_migration.py`:\n"
        + "\n".join(map(str, diff))
    )
    assert set(Base.metadata.tables) <= names


def test_one_initial_migration() -> None:
    versions = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert versions == ["0001_initial.py", "0002_list_order_indexes.py"]


def test_migration_matches_metadata(tmp_path: Path, postgres_server_url: str) -> None:
    """On SQLite and on the run's PostgreSQL server (both dialects, every run)."""
    _assert_matches(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    with fresh_postgres_database(postgres_server_url) as url:
        _assert_matches(url)

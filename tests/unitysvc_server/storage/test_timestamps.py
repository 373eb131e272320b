"""UTC timestamps: stored as UTC, always read back timezone-aware, on SQLite whatever the text."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text

from unitysvc_server.storage.base import UTCDateTime
from unitysvc_server.storage.db import create_engine

_table = Table(
    "stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime())
)


async def _read_back(path: Path, written: list[datetime | None], raw: list[str]) -> list[object]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_table.metadata.create_all)
            for value in written:
                await connection.execute(insert(_table).values(at=value))
            for value in raw:  # text not written by the type, e.g. by hand
                await connection.execute(
                    text("INSERT INTO stamps (at) VALUES (:at)"), {"at": value}
                )
            rows = await connection.execute(select(_table.c.at).order_by(_table.c.id))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


def test_sqlite_timestamps_come_back_aware_and_equal(tmp_path: Path) -> None:
    plus_two = timezone(timedelta(hours=2))
    written = [
        datetime(2026, 12, 3, 18, 45, 49, 830950, tzinfo=UTC),
        datetime(2026, 12, 3, 18, 45, 49, tzinfo=UTC),
        datetime(2026, 12, 3, 20, 45, 49, 5, tzinfo=plus_two),
        None,
    ]
    raw = ["2026-12-03 18:45:49+02:00", "2026-12-03T18:45:49"]
    read = asyncio.run(_read_back(tmp_path / "t.db", written, raw))
    assert read == [
        written[0],
        written[1],
        datetime(2026, 12, 3, 18, 45, 49, 5, tzinfo=UTC),
        None,
        datetime(2026, 12, 3, 16, 45, 49, tzinfo=UTC),
        datetime(2026, 12, 3, 18, 45, 49, tzinfo=UTC),
    ]
    assert all(value.tzinfo is UTC for value in read if isinstance(value, datetime))

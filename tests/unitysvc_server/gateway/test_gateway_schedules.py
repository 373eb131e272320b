"""The scheduler: which rows fire, cron in a timezone, leasing across schedulers, cancel.

Injected clocks make the tick tests exact; the end-to-end test runs a real platform.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import FakeUpstream, wait_for, wait_for_a_tick_after
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from unitysvc_server.config import Settings
from unitysvc_server.domain.recurrent_runs import FireResult, Job
from unitysvc_server.gateway.scheduler import Scheduler
from unitysvc_server.storage import db
from unitysvc_server.storage.tables.recurrent_requests import RecurrentRequestRow
from unitysvc_server.testing import LocalPlatform, fresh_postgres_database

Sessions = async_sessionmaker[AsyncSession]


class Recorder:
    """A ``fire`` callable that records jobs, and a ``spawn`` that can be awaited."""

    def __init__(self) -> None:
        self.fired: list[Job] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def fire(self, job: Job) -> FireResult:
        self.fired.append(job)
        return FireResult(200, [], b"{}")

    def spawn(self, coro: Any) -> None:
        self.tasks.append(asyncio.ensure_future(coro))

    async def drain(self) -> None:
        await asyncio.gather(*self.tasks)
        self.tasks.clear()


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    engine = db.engine_for(Settings(data_dir=tmp_path, port=0))
    await db.migrate(engine)
    yield db.make_sessionmaker(engine)
    await engine.dispose()


async def add_row(
    sessions: Sessions, *, status: str, schedule: dict[str, Any], next_run_at: datetime
) -> uuid.UUID:
    row_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        session.add(
            RecurrentRequestRow(
                id=row_id,
                customer_id=uuid.uuid4(),
                status=status,
                request_path="p/x",
                gateway_path="p/x",
                http_method="POST",
                schedule=schedule,
                next_run_at=next_run_at,
            )
        )
    return row_id


async def test_only_active_rows_fire(sessions: Sessions) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    every = {"schedule_type": "interval", "interval_seconds": 60}
    ids = {
        status: await add_row(sessions, status=status, schedule=every, next_run_at=now)
        for status in ("active", "paused", "cancelled", "draft")
    }
    recorder = Recorder()
    scheduler = Scheduler(sessions, recorder.fire, recorder.spawn, clock=lambda: now)
    assert await scheduler.tick() == 1
    await recorder.drain()
    assert [job.id for job in recorder.fired] == [ids["active"]]
    async with sessions() as session:
        active = await session.get(RecurrentRequestRow, ids["active"])
        paused = await session.get(RecurrentRequestRow, ids["paused"])
        assert active is not None and paused is not None
        # The run is recorded; the next run moved one interval on.
        assert (active.run_count, active.success_count, active.last_status_code) == (1, 1, 200)
        assert active.last_run_at is not None
        assert active.next_run_at == now + timedelta(seconds=60)
        assert paused.run_count == 0 and paused.next_run_at == now


async def test_cron_fires_on_local_wall_clock_across_dst(sessions: Sessions) -> None:
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC once DST starts (8 March 2026).
    schedule = {
        "schedule_type": "cron",
        "cron_expression": "0 9 * * *",
        "timezone": "America/New_York",
    }
    now = [datetime(2026, 3, 7, 14, 0, tzinfo=UTC)]
    row_id = await add_row(sessions, status="active", schedule=schedule, next_run_at=now[0])
    recorder = Recorder()
    scheduler = Scheduler(sessions, recorder.fire, recorder.spawn, clock=lambda: now[0])
    fired_at: list[datetime] = []
    while now[0] < datetime(2026, 3, 10, 12, 0, tzinfo=UTC):  # 15-minute ticks
        if await scheduler.tick():
            fired_at.append(now[0])
        now[0] += timedelta(minutes=15)
    await recorder.drain()
    assert fired_at == [
        datetime(2026, 3, 7, 14, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 13, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    ]
    async with sessions() as session:
        row = await session.get(RecurrentRequestRow, row_id)
        assert row is not None and row.run_count == 3
        assert row.next_run_at == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    with fresh_postgres_database(postgres_server_url) as url:
        yield url


@pytest.mark.postgres
async def test_two_schedulers_lease_each_due_row_once(postgres_url: str) -> None:
    """Two schedulers with their own connection pools tick at once, many times."""
    engines = [db.create_engine(postgres_url) for _ in range(2)]
    try:
        await db.migrate(engines[0])
        makers = [db.make_sessionmaker(engine) for engine in engines]
        start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        every = {"schedule_type": "interval", "interval_seconds": 60}
        ids = [
            await add_row(makers[0], status="active", schedule=every, next_run_at=start)
            for _ in range(40)
        ]
        now = [start]
        recorder = Recorder()
        schedulers = [
            Scheduler(maker, recorder.fire, recorder.spawn, clock=lambda: now[0])
            for maker in makers
        ]
        for minute in range(3):
            # Several concurrent ticks per scheduler at the same instant: one lease each.
            started = await asyncio.gather(*(s.tick() for s in schedulers for _ in range(3)))
            await recorder.drain()
            assert sum(started) == len(ids), (minute, started)
            now[0] += timedelta(seconds=60)
        counts = Counter(job.id for job in recorder.fired)
        assert set(counts) == set(ids)
        assert set(counts.values()) == {3}  # three minutes, three runs each, never more
        assert {job.run_number for job in recorder.fired} == {1, 2, 3}
    finally:
        for engine in engines:
            await engine.dispose()


def test_cancelled_request_stops_firing_and_cannot_be_triggered(
    platform: LocalPlatform,
    key: str,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
    marker: str,
) -> None:
    with httpx.Client(
        base_url=platform.api_url, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        created = http.post(
            "/recurrent-requests/",
            json={"request_path": f"p/{service_id('fake')}/{marker}", "http_method": "GET"},
        )
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
        activated = http.patch(
            f"/recurrent-requests/{rid}",
            json={"schedule": {"schedule_type": "interval", "interval_seconds": 1}},
        )
        assert activated.status_code == 200, activated.text
        # Keeps firing throughout: shows when the scheduler has ticked (see the helper).
        witness = http.post(
            "/recurrent-requests/",
            json={"request_path": f"p/{service_id('fake')}/w{marker}", "http_method": "GET"},
        ).json()["id"]
        witnessed = http.patch(
            f"/recurrent-requests/{witness}",
            json={"schedule": {"schedule_type": "interval", "interval_seconds": 1}},
        )
        assert witnessed.status_code == 200, witnessed.text
        states: list[dict[str, Any]] = []

        def ran() -> bool:
            states[:] = [http.get(f"/recurrent-requests/{rid}").json()["state"]]
            return bool(states[0]["run_count"] >= 1)

        wait_for(ran, what="a first recorded run")
        (state,) = states
        cancelled = http.patch(f"/recurrent-requests/{rid}", json={"status": "cancelled"})
        assert cancelled.status_code == 200, cancelled.text
        interval, at_cancel = timedelta(seconds=1), datetime.now(UTC)
        # A run leased just before the cancel committed may still be under way: let the
        # scheduler tick past the time the request was next due (at most an interval
        # later), then wait for that run's record.
        wait_for_a_tick_after(http, witness, at_cancel + interval, what="a tick past due")
        wait_for(
            lambda: (
                http.get(f"/recurrent-requests/{rid}").json()["state"]["run_count"]
                >= fake.count(f"/{marker}")
            ),
            what="the last run to be recorded",
        )
        fired = fake.count(f"/{marker}")
        after = http.get(f"/recurrent-requests/{rid}").json()
        assert after["status"] == "cancelled"
        # A run moved the next run past the last one while it was active.
        assert state["next_run_at"] and state["last_run_at"]
        assert datetime.fromisoformat(state["next_run_at"]) > datetime.fromisoformat(
            state["last_run_at"]
        )
        # One interval more of ticks: a cancelled request must not fire again.
        wait_for_a_tick_after(http, witness, at_cancel + 2 * interval, what="a tick later")
        assert fake.count(f"/{marker}") == fired
        refused = http.post(f"/recurrent-requests/{rid}/trigger")
        assert refused.status_code == 409
        assert fake.count(f"/{marker}") == fired

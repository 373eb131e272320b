"""The recurrent-request scheduler: end to end, with an injected clock, and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import FakeUpstream, wait_for, wait_for_a_tick_after

from unitysvc_server.catalog.loader import load_catalogs
from unitysvc_server.config import Settings
from unitysvc_server.domain.recurrent_runs import FireResult, Job
from unitysvc_server.gateway.scheduler import MIN_PAUSE_SECONDS, Scheduler
from unitysvc_server.storage import db
from unitysvc_server.storage.tables.recurrent_requests import RecurrentRequestRow
from unitysvc_server.testing import LocalPlatform, fresh_postgres_database, run_sync

DATA = Path(__file__).parent / "data"


def api(platform: LocalPlatform, key: str) -> httpx.Client:
    return platform.http(key)


def create_recurring(http: httpx.Client, path: str, interval: int | None) -> dict[str, object]:
    created = http.post(
        "/recurrent-requests/",
        json={
            "request_path": path,
            "http_method": "POST",
            "body_template": {"run": "{{ run_number }}"},
            "request_headers": {"X-Unitysvc-Log-Request": "1"},
        },
    )
    assert created.status_code == 201, created.text
    record: dict[str, object] = created.json()
    if interval is not None:
        patched = http.patch(
            f"/recurrent-requests/{record['id']}",
            json={"schedule": {"schedule_type": "interval", "interval_seconds": interval}},
        )
        assert patched.status_code == 200, patched.text
        record = patched.json()
        assert record["status"] == "active"
    return record


@pytest.mark.slow
def test_recurrent_request_fires_on_its_interval_and_stops_when_paused(
    platform: LocalPlatform,
    key: str,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
    marker: str,
) -> None:
    target = f"{platform.gateway_url}/p/{service_id('fake')}/{marker}"
    with api(platform, key) as http:
        record = create_recurring(http, target, interval=1)
        # Keeps firing throughout: shows when the scheduler has ticked (see the helper).
        witness = create_recurring(http, f"p/{service_id('fake')}/w{marker}", interval=1)
        wait_for(lambda: fake.count(f"/{marker}") >= 2, timeout=10, what="two runs")
        paused = http.patch(f"/recurrent-requests/{record['id']}", json={"status": "paused"})
        assert paused.status_code == 200
        interval, at_pause = timedelta(seconds=1), datetime.now(UTC)
        # A run leased just before the pause may still be in flight: let the scheduler
        # tick past the time the request was next due (at most an interval after the
        # pause), then wait for that run's record; the counts must then agree and stay put.
        wait_for_a_tick_after(http, str(witness["id"]), at_pause + interval, what="a tick")
        wait_for(
            lambda: (
                http.get(f"/recurrent-requests/{record['id']}").json()["state"]["run_count"]
                >= fake.count(f"/{marker}")
            ),
            what="the last run to be recorded",
        )
        state = http.get(f"/recurrent-requests/{record['id']}").json()["state"]
        fired = fake.count(f"/{marker}")
        assert state["run_count"] == state["success_count"] == fired >= 2
        assert state["last_status_code"] == 200 and state["last_run_at"]
        bodies = [json.loads(h["body"]) for h in fake.hits if h["path"] == f"/{marker}"]
        assert [b["run"] for b in bodies[:2]] == ["1", "2"]
        # Fired as the owner: the opt-in header made each run a log row linked to it.
        logs = http.get("/request-logs", params={"recurrent_request_id": record["id"]}).json()
        assert logs["total_count"] >= 2
        # One interval more of ticks: a paused request must not fire.
        wait_for_a_tick_after(
            http, str(witness["id"]), at_pause + 2 * interval, what="a tick an interval later"
        )
        assert fake.count(f"/{marker}") == fired
        assert http.get(f"/recurrent-requests/{record['id']}").json()["state"]["run_count"] == fired


def test_trigger_fires_now_and_returns_the_response(
    platform: LocalPlatform,
    key: str,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
    marker: str,
) -> None:
    with api(platform, key) as http:
        record = create_recurring(http, f"p/{service_id('fake')}/{marker}", interval=None)
        assert record["status"] == "draft"
        triggered = http.post(f"/recurrent-requests/{record['id']}/trigger")
        assert triggered.status_code == 200, triggered.text
        assert triggered.json()["path"] == f"/{marker}"
        state = http.get(f"/recurrent-requests/{record['id']}").json()["state"]
        assert state["run_count"] == 1 and state["last_status_code"] == 200
        assert fake.count(f"/{marker}") == 1


@pytest.fixture
def sessionmaker(tmp_path: Path) -> Iterator[object]:
    settings = Settings(data_dir=tmp_path, port=0)
    engine = db.engine_for(settings)

    async def migrate() -> None:
        await db.migrate(engine)

    asyncio.run(migrate())
    yield db.make_sessionmaker(engine)
    asyncio.run(engine.dispose())


def _row(
    due: datetime, status: str = "active", schedule: dict[str, object] | None = None
) -> RecurrentRequestRow:
    return RecurrentRequestRow(
        id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        status=status,
        request_path="p/x",
        gateway_path="p/x",
        http_method="POST",
        schedule=schedule or {"schedule_type": "interval", "interval_seconds": 3600},
        next_run_at=due,
    )


def _recording_scheduler(
    sessionmaker: object, **options: Any
) -> tuple[Scheduler, list[Job], list[asyncio.Task[None]]]:
    """A scheduler whose runs answer 200 at once: the jobs fired, the run tasks."""
    fired: list[Job] = []
    background: list[asyncio.Task[None]] = []

    async def fire(job: Job) -> FireResult:
        fired.append(job)
        return FireResult(200, [], b"{}")

    scheduler = Scheduler(
        sessionmaker,  # type: ignore[arg-type]
        fire,
        lambda coro: background.append(asyncio.ensure_future(coro)),
        **options,
    )
    return scheduler, fired, background


async def test_scheduler_tick_with_injected_clock(sessionmaker: object) -> None:
    now = [datetime(2026, 3, 1, 12, 0, tzinfo=UTC)]
    scheduler, fired, background = _recording_scheduler(sessionmaker, clock=lambda: now[0])
    row = _row(now[0], schedule={"schedule_type": "cron", "cron_expression": "*/5 * * * *"})
    row_id = row.id
    async with sessionmaker() as session, session.begin():  # type: ignore[operator]
        session.add(row)
    assert await scheduler.tick() == 1
    await asyncio.gather(*background)
    assert await scheduler.tick() == 0  # the same instant fires once
    now[0] += timedelta(minutes=4)
    assert await scheduler.tick() == 0
    now[0] += timedelta(minutes=1)
    assert await scheduler.tick() == 1
    await asyncio.gather(*background)
    assert [job.id for job in fired] == [row_id, row_id]
    assert [job.run_number for job in fired] == [1, 2]
    async with sessionmaker() as session:  # type: ignore[operator]
        row = await session.get(RecurrentRequestRow, row_id)
        assert row is not None
        assert row.run_count == 2
        assert row.next_run_at == datetime(2026, 3, 1, 12, 10, tzinfo=UTC)


async def test_scheduler_sleeps_until_the_next_due_run_within_bounds(sessionmaker: object) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    async def fire(job: Job) -> FireResult:
        raise AssertionError("nothing is due")

    scheduler = Scheduler(
        sessionmaker,  # type: ignore[arg-type]
        fire,
        lambda coro: coro.close(),
        clock=lambda: now,
        idle_seconds=2.0,
    )
    assert await scheduler.tick() == 0
    assert scheduler.next_due is None and scheduler.pause() == 2.0  # nothing scheduled
    async with sessionmaker() as session, session.begin():  # type: ignore[operator]
        session.add(_row(now + timedelta(hours=1)))
        session.add(_row(now + timedelta(milliseconds=500), status="paused"))
    assert await scheduler.tick() == 0
    assert scheduler.pause() == 2.0  # an hour away: wake at the idle bound to look again
    async with sessionmaker() as session, session.begin():  # type: ignore[operator]
        session.add(_row(now + timedelta(milliseconds=700)))
    assert await scheduler.tick() == 0
    assert scheduler.next_due == now + timedelta(milliseconds=700)
    assert scheduler.pause() == pytest.approx(0.7)  # the paused row is not waited for
    scheduler.next_due = now - timedelta(seconds=1)  # due, but leased by another server
    assert scheduler.pause() == MIN_PAUSE_SECONDS


async def test_a_wake_ticks_at_once_and_stop_ends_the_loop_at_once(sessionmaker: object) -> None:
    finished: list[None] = []  # one entry per database session the scheduler closed

    @contextlib.asynccontextmanager
    async def counted() -> AsyncIterator[Any]:
        async with sessionmaker() as session:  # type: ignore[operator]
            yield session
        finished.append(None)

    scheduler, fired, background = _recording_scheduler(counted, idle_seconds=60.0)
    loop = asyncio.ensure_future(scheduler.loop())
    for _ in range(200):  # until the first tick's lease is over (bounded: 10 s)
        if finished:
            break
        await asyncio.sleep(0.05)
    # Nothing awaits between that lease and the loop's sleep: it now sleeps 60 s.
    assert finished and scheduler.next_due is None and not loop.done()
    row = _row(datetime.now(UTC))
    async with sessionmaker() as session, session.begin():  # type: ignore[operator]
        session.add(row)
    scheduler.wake()
    for _ in range(100):
        if fired:
            break
        await asyncio.sleep(0.05)
    assert [job.id for job in fired] == [row.id]
    scheduler.stop()
    await asyncio.wait_for(loop, 2.0)
    await asyncio.gather(*background)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_on_one_database_fire_each_tick_once(
    fake: FakeUpstream, marker: str, postgres_server_url: str
) -> None:
    server_url = postgres_server_url
    options = {
        "catalogs": [DATA / "gwtest"],
        "upstreams": {"https://fake.gwtest.example.com": fake.url},
        "process": True,
    }
    with fresh_postgres_database(server_url) as database_url, contextlib.ExitStack() as stack:
        # Migrated once here, so the two servers start side by side (each finds the
        # schema at head) rather than one after the other.
        engine = db.create_engine(database_url)
        run_sync(db.migrate(engine))
        run_sync(engine.dispose())
        first, second = (LocalPlatform(database_url=database_url, **options) for _ in "12")
        stack.callback(second.close)
        stack.callback(first.close)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LocalPlatform.start, [first, second]))
        key = first.create_customer("shared-schedule")
        (fake_service,) = [s for s in load_catalogs([DATA / "gwtest"]) if s.name == "fake"]
        fake_id = fake_service.id
        with api(first, key) as http:
            record = create_recurring(http, f"p/{fake_id}/{marker}", interval=1)
            started = time.monotonic()
            wait_for(lambda: fake.count(f"/{marker}") >= 5, timeout=20, what="five runs")
            http.patch(f"/recurrent-requests/{record['id']}", json={"status": "paused"})
            elapsed = time.monotonic() - started
            wait_for(
                lambda: (
                    http.get(f"/recurrent-requests/{record['id']}").json()["state"]["run_count"]
                    >= fake.count(f"/{marker}")
                ),
                what="runs to be recorded",
            )
            state = http.get(f"/recurrent-requests/{record['id']}").json()["state"]
        with api(second, key) as http:
            assert http.get(f"/recurrent-requests/{record['id']}").status_code == 200
        hits = fake.count(f"/{marker}")
        # Each due tick was leased by exactly one server: one hit per recorded run, and
        # no more runs than ticks elapsed (two schedulers double-firing would give ~2x).
        assert hits == state["run_count"]
        assert hits <= elapsed + 2
        runs = sorted(int(json.loads(h["body"])["run"]) for h in fake.hits if marker in h["path"])
        assert len(runs) == len(set(runs))

"""``bench/bench_control_plane.py``: its options, and the pure parts that decide what it
measures (cursor detection and walking, the profile summary, process CPU time)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    # The bench imports its sibling modules as a script run from bench/ would.
    sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(
        "bench_control_plane", BENCH_DIR / "bench_control_plane.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_control_plane"] = module
    spec.loader.exec_module(module)
    return module


def test_quick_and_full_defaults(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNITYSVC_BENCH_DATABASE_URL", raising=False)
    quick = bench.parse_args(["--quick"])
    assert (quick.duration, quick.log_rows, quick.page_reps) == (2, [10000], 9)
    assert quick.postgres == "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    full = bench.parse_args([])
    assert (full.duration, full.log_rows, full.page_reps) == (10, [10000, 100000], 15)
    own = bench.parse_args(["--no-postgres", "--log-rows", "500,200,500", "--duration", "3"])
    assert (own.postgres, own.log_rows, own.duration) == (None, [200, 500], 3)


def test_database_url_from_the_environment(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNITYSVC_BENCH_DATABASE_URL", "postgresql+asyncpg://u@db:5433/x")
    assert bench.parse_args([]).postgres == "postgresql+asyncpg://u@db:5433/x"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "0"], "--duration: at least 1"),
        (["--page-reps", "0"], "--page-reps: at least 1"),
        (["--log-rows", "10k"], "--log-rows: comma-separated whole numbers"),
        (["--log-rows", "100"], "--log-rows: each at least 200"),
        (["--database-url", "sqlite:///x.db"], "--database-url: a PostgreSQL server"),
        (["--baseline", "/no/such/baseline.json"], "--baseline: no such file"),
        (["--compare-src", "/"], "--compare-src: / holds no unitysvc_server package"),
        (["--only", "logs,nope"], "--only: some of cpu, byok, logs, workers"),
    ],
)
def test_bad_options_are_refused_by_name(
    bench: ModuleType, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_only_some_rows(bench: ModuleType) -> None:
    assert bench.parse_args([]).only == frozenset(bench.SECTIONS)
    assert bench.parse_args(["--only", "logs, workers"]).only == {"logs", "workers"}
    figures = {"first_ms": 10.0, "last_ms": 11.0, "ratio": 1.1}
    results = {
        "backends": ["SQLite"],
        "logs": {"10000": {"SQLite": {"skip": figures, "cursor": figures}}},
    }
    table, _ = bench.rows_of(results, None)
    assert [row[0] for row in table] == [
        "request logs 10k, skip: first / last ms",
        "request logs 10k, cursor: first / last ms",
    ]
    assert table[0][1:] == ["10.0 / 11.0 (1.10x)", "-", "last <= 1.2x first", "ok"]


def _logs_server(rows: int, cursor: str | None, next_field: str | None) -> httpx.MockTransport:
    """A stand-in ``/v1/request-logs``: skip/limit always, a keyset cursor when asked."""
    parameters = [{"name": "skip", "in": "query"}, {"name": "limit", "in": "query"}]
    if cursor:
        parameters.append({"name": cursor, "in": "query"})
    spec = {"paths": {"/v1/request-logs": {"get": {"parameters": parameters}}}}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json=spec)
        assert request.url.path == "/v1/request-logs"
        limit = int(request.url.params["limit"])
        start = int(request.url.params.get("skip", 0))
        if cursor and cursor in request.url.params:
            start = int(request.url.params[cursor])
        items = [{"log_id": str(i)} for i in range(start, min(start + limit, rows))]
        body: dict[str, Any] = {"total_count": rows, "items": items}
        if next_field:
            body[next_field] = str(start + limit) if start + limit < rows else None
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


def test_pages_by_skip_only_when_the_server_has_no_cursor(bench: ModuleType) -> None:
    with httpx.Client(transport=_logs_server(1050, None, None), base_url="http://x") as http:
        result = bench.first_and_last_pages(http, 1050, 2)
    assert result["skip"]["first_ms"] > 0 and result["skip"]["last_ms"] > 0
    assert result["cursor"] == {"na": "no cursor parameter on GET /v1/request-logs"}


def test_pages_by_cursor_when_the_server_offers_one(bench: ModuleType) -> None:
    transport = _logs_server(1050, "cursor", "next_cursor")
    with httpx.Client(transport=transport, base_url="http://x") as http:
        result = bench.first_and_last_pages(http, 1050, 2)
    assert result["cursor"]["ratio"] == result["cursor"]["last_ms"] / result["cursor"]["first_ms"]
    assert "na" not in result["skip"]


def test_a_cursor_parameter_without_a_next_cursor_is_reported(bench: ModuleType) -> None:
    with httpx.Client(transport=_logs_server(400, "after", None), base_url="http://x") as http:
        result = bench.first_and_last_pages(http, 400, 1)
    assert result["cursor"] == {"na": "a 'after' parameter, but no next cursor in the page"}


def test_seeding_shortfall_is_an_error(bench: ModuleType) -> None:
    # The server lists 900 rows where 1050 were meant to be: the last page is short.
    with (
        httpx.Client(transport=_logs_server(900, None, None), base_url="http://x") as http,
        pytest.raises(RuntimeError, match="expected 50"),
    ):
        bench.first_and_last_pages(http, 1050, 1)


def test_profile_summary(bench: ModuleType, tmp_path: Path) -> None:
    # py-spy's raw --native format: collapsed stacks, Python files relative to their
    # sys.path entry, native frames named by library.
    raw = tmp_path / "raw.txt"
    main = (
        "_run_module_as_main (<frozen runpy>:198);start (unitysvc_server/cli.py:9);"
        "Runner.run (asyncio/runners.py:118)"
    )
    worker = "Thread.run (threading.py:982);_connection_worker_thread (aiosqlite/core.py:63)"
    raw.write_text(
        f"{main};set_secret (unitysvc_server/domain/secrets.py:9);"
        "Session.execute (sqlalchemy/orm/session.py:10);"
        "Connection._execute (aiosqlite/core.py:5) 3\n"
        f"{main};set_secret (unitysvc_server/domain/secrets.py:9) 1\n"
        f"{main};epoll_pwait (libc.so.6) 4\n"
        f"{worker};sqlite3_step (libsqlite3.so.0.8.6);sqlite3InvokeBusyHandler "
        "(libsqlite3.so.0.8.6);clock_nanosleep (libc.so.6) 2\n"
        "not a stack line\n"
    )
    found = bench.summarize_profile(raw)
    assert found["samples"] == 10
    assert dict(found["states"]) == {
        "waiting (lock, queue, epoll, GIL)": 40.0,
        "running": 40.0,
        "SQLite busy handler (sleeping for the write lock)": 20.0,
    }
    # Shares of the 4 running samples.
    assert found["leaf"][0] == ("Connection._execute (aiosqlite/core.py)", 75.0)
    assert dict(found["packages"]) == {
        "unitysvc_server": 100.0,
        "sqlalchemy": 75.0,
        "aiosqlite": 75.0,
    }
    assert found["own"] == [("set_secret (unitysvc_server/domain/secrets.py)", 100.0)]


def test_cpu_seconds_counts_this_process(bench: ModuleType) -> None:
    before = bench.cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert bench.cpu_seconds(os.getpid()) > before


def test_baseline_shape(bench: ModuleType) -> None:
    # The committed baseline holds what the CPU rows read.
    baseline = json.loads(bench.DEFAULT_BASELINE.read_text())
    for label in ("secrets.list", "groups.services", "PUT secret"):
        assert baseline["cpu"][label]["SQLite"]["cpu_ms"] > 0


def test_the_workers_ceiling_counts_what_shares_the_cores(bench: ModuleType) -> None:
    # One worker at 1 ms of CPU per request; the upstream, wrk and the database 0.25 ms
    # together: two cores give two workers 2 * 1 / 1.25 = 1.6x at best.
    costs = {"server": 1.0, "upstream": 0.15, "wrk": 0.05, "database": 0.05}
    assert bench.ceiling(costs, 2) == pytest.approx(1.6)
    assert bench.ceiling({"server": 1.0, "upstream": 0.0, "wrk": 0.0, "database": 0.0}, 4) == 2
    run = {"rps": 100.0, "cpu_ms": costs, "server_cores": 0.9, "load_after": 2.0}
    workers = {"1": run, "2": {**run, "rps": 150.0}, "ratio": 1.5, "ceiling": 1.6}
    table, notes = bench.rows_of({"backends": ["SQLite"], "workers": {"SQLite": workers}}, None)
    assert [row[1] for row in table] == [
        "100 / 150 (1.50x)",
        "1.00+0.15+0.05+0.05",
        "1.60x",
        "0.90 (2.0) / 0.90 (2.0)",
    ]
    assert any("share the machine's cores" in note for note in notes)
    # With the control plane's own run: its row, judged on its own ratio.
    listing = {"1": {**run, "rps": 200.0}, "2": {**run, "rps": 360.0}, "ratio": 1.8}
    workers["secrets.list"] = {**listing, "ceiling": 1.9}
    table, _ = bench.rows_of({"backends": ["SQLite"], "workers": {"SQLite": workers}}, None)
    assert table[-1][0].startswith("control plane c20 req/s (secrets.list)")
    assert table[-1][1:] == ["200 / 360 (1.80x, allows 1.90x)", "-", ">= 1.7x", "ok"]

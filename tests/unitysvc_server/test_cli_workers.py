"""``usvc server start --workers 2``: two processes on one port, their caches in step.

The server is started as a process with two workers (``SO_REUSEPORT`` sockets, one per
worker). Calls on fresh connections spread over both; once every worker holds the key
in its cache, the key is revoked through the operator API — served by one of them —
and from the moment that returns, every call on the port is refused, whichever worker
takes it. On SQLite (the shared invalidation file) and PostgreSQL (``LISTEN``/``NOTIFY``).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from unitysvc_server.testing import LocalPlatform, fresh_postgres_database

ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
#: A service id nobody has: an accepted key gets 404, a refused one 401.
NOWHERE = f"/p/{uuid.UUID(int=0)}"
#: Calls per check, each on a new connection: all land on one of two workers with
#: probability 2**-39.
CALLS = 40


@pytest.fixture(params=["sqlite", "postgresql"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalPlatform]:
    with contextlib.ExitStack() as stack:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'unitysvc.db'}"
        if request.param == "postgresql":
            server = request.getfixturevalue("postgres_server_url")
            database_url = stack.enter_context(fresh_postgres_database(server))
        options: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "secret_key": Fernet.generate_key().decode(),
            "admin_token": ADMIN_TOKEN,
            "scheduler_enabled": False,
            "process": True,
            "workers": 2,
        }
        yield stack.enter_context(LocalPlatform(**options))


def _listening_pids(port: int) -> set[int]:
    """The processes holding a listening TCP socket on ``port`` (from ``/proc``)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
                    inodes.add(fields[9])
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.add(int(entry.name))
    return pids


def _fresh_connections(base_url: str, **kwargs: Any) -> httpx.Client:
    """A client that opens a new connection for every call (no keep-alive): the kernel
    hands each to one of the workers' sockets. One client, not one per call: each new
    client builds its TLS context, which costs more than the call."""
    return httpx.Client(
        base_url=base_url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0), **kwargs
    )


def _statuses(platform: LocalPlatform, key: str, path: str = NOWHERE) -> set[int]:
    """The statuses of ``CALLS`` calls of ``path``, each on a connection of its own."""
    headers = {"Authorization": f"Bearer {key}"}
    with _fresh_connections(platform.gateway_url) as http:
        return {http.get(path, headers=headers).status_code for _ in range(CALLS)}


def test_two_workers_listen_and_refuse_a_revoked_key_at_once(
    two_workers: LocalPlatform,
) -> None:
    # The platform answered its health check once one worker served: wait for both.
    deadline = time.monotonic() + 60
    while len(_listening_pids(two_workers.settings.port)) < 2:
        assert time.monotonic() < deadline, "the second worker never listened"
        time.sleep(0.05)
    name = f"workers-{uuid.uuid4().hex[:8]}"
    key = two_workers.create_customer(name)
    # Accepted, and cached by both workers: by the gateway and by the control plane.
    assert _statuses(two_workers, key) == {404}
    assert _statuses(two_workers, key, "/v1/secrets/") == {200}
    with httpx.Client(
        base_url=f"{two_workers.api_url}/admin",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    ) as admin:
        answer = admin.post("keys/revoke", json={"key": key})
    assert answer.status_code == 200, answer.text
    assert _statuses(two_workers, key) == {401}
    assert _statuses(two_workers, key, "/v1/secrets/") == {401}


def test_workers_must_be_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="workers: must be at least 1"):
        LocalPlatform(data_dir=tmp_path / "data", workers=0).start()


def test_workers_starting_on_a_fresh_data_dir_share_one_generated_secret_key(
    tmp_path: Path,
) -> None:
    options: dict[str, Any] = {"data_dir": tmp_path / "fresh", "process": True, "workers": 3}
    assert "secret_key" not in options  # each worker finds or generates the key file
    with LocalPlatform(**options) as platform:
        deadline = time.monotonic() + 60
        while len(_listening_pids(platform.settings.port)) < 3:
            assert time.monotonic() < deadline, "not every worker listened"
            time.sleep(0.05)
        key = platform.create_customer("shared-key")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=platform.api_url, headers=headers, timeout=30) as api:
            stored = api.put("/secrets/SHARED", json={"value": "readable", "sensitive": False})
            assert stored.status_code == 201, stored.text
        # Fresh connections: every worker decrypts it.
        with _fresh_connections(platform.api_url, headers=headers) as api:
            values = {api.get("/secrets/SHARED").json()["value"] for _ in range(CALLS)}
        assert values == {"readable"}


def _gateway_requests(http: httpx.Client) -> tuple[float, set[str]]:
    """One scrape of ``/metrics`` (``http`` opens a connection per call): the gateway
    requests it counts (every route but the control plane's), and the workers its
    gauges name."""
    answer = http.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert answer.status_code == 200, answer.text
    counted, workers = 0.0, set()
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == "unitysvc_requests_total" and sample.labels["route"] != "v1":
                counted += sample.value
            if sample.name == "unitysvc_build_info":
                workers.add(sample.labels["worker"])
    return counted, workers


def test_metrics_of_two_workers_count_the_whole_server(tmp_path: Path) -> None:
    """Calls spread over both workers; every scrape — whichever worker takes it — counts
    all of them, and names both workers in its per-process gauges."""
    options: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "secret_key": Fernet.generate_key().decode(),
        "admin_token": ADMIN_TOKEN,
        "scheduler_enabled": False,
        "process": True,
        "workers": 2,
        "metrics": True,
    }
    with LocalPlatform(**options) as platform:
        deadline = time.monotonic() + 60
        while len(_listening_pids(platform.settings.port)) < 2:
            assert time.monotonic() < deadline, "the second worker never listened"
            time.sleep(0.05)
        key = platform.create_customer(f"metrics-{uuid.uuid4().hex[:8]}")
        with _fresh_connections(platform.gateway_url) as scraper:
            before, _ = _gateway_requests(scraper)
            assert _statuses(platform, key) == {404}  # CALLS calls, each on a new connection
            # The door counts a call just after its last byte: poll, bounded.
            deadline = time.monotonic() + 10
            while _gateway_requests(scraper)[0] < before + CALLS:
                assert time.monotonic() < deadline, "not every call was counted"
                time.sleep(0.05)
            for _ in range(10):  # fresh connections: both workers take some of the scrapes
                assert _gateway_requests(scraper) == (before + CALLS, {"0", "1"})

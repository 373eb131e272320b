"""Data survives restarts and ``kill -9``; a wrong secret key fails closed."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from unitysvc_server.testing import TEST_DATABASE_ENV, LocalPlatform, fresh_postgres_database


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _snapshot(api: httpx.Client) -> dict[str, Any]:
    """What the customer can read back of every resource kind."""

    def ids(path: str, key: str = "data") -> list[str]:
        response = api.get(path)
        assert response.status_code == 200, response.text
        return sorted(item["id"] for item in response.json()[key])

    enrollments = api.get("/enrollments/").json()["data"]
    own_groups = api.get("/groups", params={"owner": "own"}).json()["data"]
    return {
        "secrets": sorted(s["name"] for s in api.get("/secrets/").json()["data"]),
        "variable": api.get("/secrets/KEEP").json()["value"],
        "aliases": ids("/aliases/"),
        "chains": [(c["id"], len(c["steps"])) for c in api.get("/chains/").json()["data"]],
        "broadcasts": [
            (b["id"], len(b["targets"])) for b in api.get("/broadcasts/").json()["data"]
        ],
        "recurrent": ids("/recurrent-requests/"),
        "enrollments": sorted((e["id"], e["status"], e["code"]) for e in enrollments),
        "collections": sorted((g["id"], g["member_count"]) for g in own_groups),
        "files": [o["key"] for o in api.get("/files/list").json()["objects"]],
    }


def test_restart_on_the_same_data_dir_keeps_everything(tmp_path: Path) -> None:
    with LocalPlatform(data_dir=tmp_path / "data", demo=True) as platform:
        key = platform.create_customer("restart")
        url = platform.api_url
        with platform.http(key) as api:
            assert (
                api.put("/secrets/KEEP", json={"value": "kept", "sensitive": False}).status_code
                == 201
            )
            assert api.put("/secrets/HIDDEN", json={"value": "h"}).status_code == 201
            services = api.get("/groups/all_services/services").json()["data"]
            small = next(s["id"] for s in services if s["name"] == "demo-small")
            byoe = next(s["id"] for s in services if s["name"] == "demo-byoe")
            writes = [
                api.post("/aliases/", json={"name": "fast", "target_path": "g/llm"}),
                api.post(
                    "/chains/",
                    json={
                        "name": "ch",
                        "steps": [{"name": "a", "target_path": "p/demo-small", "sort_order": 0}],
                    },
                ),  # fmt: skip
                api.post(
                    "/broadcasts/",
                    json={"name": "bc", "targets": [{"name": "t", "target_path": "g/llm"}]},
                ),
                api.post("/recurrent-requests/", json={"request_path": "g/llm"}),
                api.post("/groups", json={"name": "kept"}),
                api.post(
                    "/enrollments/",
                    json={"service_id": byoe, "parameters": {"base_url": "http://127.0.0.1:9"}},
                ),
                api.post("/request-logs/start", params={"complete": "true"}),
            ]
            assert [w.status_code for w in writes] == [201, 201, 201, 201, 201, 202, 200]
            collection = writes[4].json()["id"]
            member = api.post(f"/groups/{collection}/members", json={"service_id": small})
            assert member.status_code == 201
            ticket = api.post("/files/upload", json={"filename": "kept.txt", "size": 4}).json()
            form = httpx.post(ticket["url"], data=ticket["fields"], files={"file": ("f", b"kept")})
            assert form.status_code == 204
            deadline = time.monotonic() + 10
            while api.get("/enrollments/").json()["data"][0]["status"] == "pending":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            before = _snapshot(api)
        assert before["enrollments"][0][1:] != ("pending", None)

        platform.restart()

        assert platform.api_url == url  # same port: existing clients keep working
        with platform.http(key) as api:
            assert _snapshot(api) == before  # secret values decrypt: same key
            assert api.get("/files/download", params={"key": "kept.txt"}).status_code == 200
    # A data dir given by the caller is kept on exit.
    assert (tmp_path / "data" / "secret.key").exists()
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600


@pytest.fixture
def shared_database() -> Iterator[str | None]:
    """A database outliving one platform: PostgreSQL when the suite runs on it."""
    server = os.environ.get(TEST_DATABASE_ENV, "")
    if server.startswith("postgresql"):
        with fresh_postgres_database(server) as url:
            yield url
    else:
        yield None  # the SQLite file in the data dir


def test_a_different_secret_key_fails_closed_without_a_trace(
    tmp_path: Path, shared_database: str | None
) -> None:
    data = tmp_path / "data"
    with LocalPlatform(data_dir=data, database_url=shared_database) as platform:
        key = platform.create_customer("rekeyed")
        with platform.http(key) as api:
            assert (
                api.put("/secrets/VAR", json={"value": "v", "sensitive": False}).status_code == 201
            )
    rekeyed = LocalPlatform(
        data_dir=data, database_url=shared_database, secret_key=Fernet.generate_key().decode()
    )
    with rekeyed as platform, platform.http(key) as api:
        response = api.get("/secrets/VAR")
        assert response.status_code == 500
        body = response.json()
        assert body == {
            "detail": "internal error",
            "request_id": response.headers["x-request-id"],
        }
        # The listing includes the undecryptable variable: it fails as a whole.
        assert api.get("/secrets/").status_code == 500
        # New values are encrypted with the new key and work.
        assert api.put("/secrets/OTHER", json={"value": "x"}).status_code == 201
        assert api.get("/secrets/OTHER").status_code == 200


@pytest.mark.slow
def test_kill_9_during_a_write_burst_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    platform = LocalPlatform(data_dir=tmp_path / "data", process=True)
    with platform:
        key = platform.create_customer("crash")
        acknowledged: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(worker: int) -> None:
            with httpx.Client(base_url=platform.api_url, headers=auth(key), timeout=10) as api:
                for i in range(10_000):
                    if stop.is_set():
                        return
                    name = f"W{worker}_{i}"
                    try:
                        response = api.put(f"/secrets/{name}", json={"value": name})
                    except httpx.TransportError:
                        return  # the server died mid-request: not acknowledged
                    if response.status_code == 201:
                        with lock:
                            acknowledged.append(name)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        platform.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert len(acknowledged) >= 60

        platform.start()
        with platform.http(key) as api:
            stored = {s["name"] for s in api.get("/secrets/").json()["data"]}
        missing = sorted(set(acknowledged) - stored)
        assert missing == []

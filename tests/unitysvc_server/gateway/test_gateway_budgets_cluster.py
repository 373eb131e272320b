"""A budget's cap holds across two server processes on one PostgreSQL database.

Callers hammer both servers at once until each is refused; the spend is counted in the
shared database with one atomic statement per call, so:

* the counter equals exactly the cost of the calls admitted (no increment lost between
  processes),
* calls were admitted only while the counter was under the cap: at most the cap's worth
  plus the calls in flight when it was crossed,
* once the cap is reached, every later call on either server is refused,
* raising the cap on one server re-opens the other at once (the invalidation bus).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from gateway_helpers import FakeUpstream

from unitysvc_server.catalog.loader import load_catalogs
from unitysvc_server.testing import LocalPlatform, fresh_postgres_database

DATA = Path(__file__).parent / "data"
FAKE_ORIGIN = "https://fake.gwtest.example.com"
#: Each call through ``cheap`` costs 0.2 (1,000,000 tokens each way at 0.10 per million).
CALL_COST = Decimal("0.2")
CAP = Decimal("2")
CALLERS_PER_SERVER = 4
CHAT_BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def two_servers(
    postgres_server_url: str, fake: FakeUpstream, tmp_path: Path
) -> Iterator[list[LocalPlatform]]:
    with contextlib.ExitStack() as stack:
        options: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": stack.enter_context(fresh_postgres_database(postgres_server_url)),
            "secret_key": Fernet.generate_key().decode(),
            "catalogs": [DATA / "gwtest"],
            "upstreams": {FAKE_ORIGIN: fake.url},
            "scheduler_enabled": False,
            "process": True,
        }
        yield [stack.enter_context(LocalPlatform(**options)) for _ in range(2)]


def _chat_path() -> str:
    """A chat call to ``cheap`` (its id read from the catalog the servers load)."""
    cheap = [s for s in load_catalogs([DATA / "gwtest"]) if s.name == "cheap"]
    assert len(cheap) == 1
    return f"/p/{cheap[0].id}/usage-chat/1000000/v1/chat/completions"


def _hammer(server: LocalPlatform, key: str, path: str, results: list[int]) -> None:
    """Call until refused; record each status."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.gateway_url, headers=headers, timeout=60) as gw:
        for _ in range(100):
            status = gw.post(path, json=CHAT_BODY).status_code
            results.append(status)
            if status != 200:
                return


def test_concurrent_calls_on_two_servers_stop_at_the_cap(
    two_servers: list[LocalPlatform],
) -> None:
    first, second = two_servers
    key = first.create_customer("cluster-budget")
    path = _chat_path()
    with first.http(key) as api:
        budget = api.post("/budgets/", json={"name": "shared", "cap": str(CAP)}).json()

    results: list[list[int]] = [[] for _ in range(2 * CALLERS_PER_SERVER)]
    threads = [
        threading.Thread(target=_hammer, args=(server, key, path, results[i]))
        for i, server in enumerate([first, second] * CALLERS_PER_SERVER)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)

    statuses = [status for caller in results for status in caller]
    admitted = statuses.count(200)
    # Every caller ended on a refusal, and nothing but 200s and 402s was answered.
    assert all(caller and caller[-1] == 402 for caller in results), results
    assert set(statuses) == {200, 402}
    full = int(CAP / CALL_COST)
    assert full <= admitted <= full + len(threads) - 1, admitted
    # Both servers admitted calls: the cap was shared, not per process.
    assert all(200 in results[i] for i in (0, 1)), results

    with second.http(key) as api:
        status = api.get(f"/budgets/{budget['id']}/status").json()
    assert Decimal(status["spent"]) == admitted * CALL_COST  # no increment lost
    assert status["exhausted"] is True

    # From now on, every call on either server is refused.
    headers = {"Authorization": f"Bearer {key}"}
    for server in (first, second, first, second):
        with httpx.Client(base_url=server.gateway_url, headers=headers, timeout=60) as gw:
            refused = gw.post(path, json=CHAT_BODY)
        assert refused.status_code == 402
        assert refused.json()["budget"]["id"] == budget["id"]

    # Raising the cap on one server re-opens the other at once.
    with first.http(key) as api:
        raised = api.patch(f"/budgets/{budget['id']}", json={"cap": "1000"})
        assert raised.status_code == 200, raised.text
    with httpx.Client(base_url=second.gateway_url, headers=headers, timeout=60) as gw:
        assert gw.post(path, json=CHAT_BODY).status_code == 200

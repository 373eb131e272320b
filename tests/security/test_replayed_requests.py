"""Finding 3: one ``Idempotency-Key``, one execution — whatever retries and races there are.

The key is claimed (a unique row inserted and committed) *before* a POST runs, so a
duplicate never runs the work again: it waits for the first request's outcome and gets
its response replayed (``Idempotent-Replayed: true``). The trigger of a recurrent
request, whose work is an upstream call, is the sharpest case; creates (aliases,
enrollments) must also answer every concurrent duplicate with the replay rather than
"already exists".
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from security_helpers import SECCAT, SECCAT_ORIGIN, CountingUpstream

import unitysvc
from unitysvc_server.testing import LocalPlatform

PARALLEL = 10


@pytest.fixture(scope="module")
def slow() -> Iterator[CountingUpstream]:
    with CountingUpstream() as running:
        yield running


@pytest.fixture(scope="module")
def platform(slow: CountingUpstream) -> Iterator[LocalPlatform]:
    with LocalPlatform(
        demo=True, catalogs=[SECCAT], upstreams={SECCAT_ORIGIN: slow.url}
    ) as running:
        yield running


def _in_parallel(count: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    results: list[httpx.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        response = call()
        with lock:
            results.append(response)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == count
    return results


def _recurrent(platform: LocalPlatform, key: str, marker: str) -> str:
    service = platform.app.runtime.catalog.service_by_name("guarded").id
    with platform.http(key) as api:
        created = api.post(
            "recurrent-requests/",
            json={"request_path": f"p/{service}/{marker}/slow", "http_method": "POST"},
        )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_parallel_triggers_with_one_key_run_the_upstream_call_once(
    platform: LocalPlatform, slow: CountingUpstream
) -> None:
    key = platform.create_customer(f"trigger-{uuid.uuid4().hex[:8]}")
    marker = uuid.uuid4().hex[:12]
    request_id = _recurrent(platform, key, marker)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"once-{marker}"}

    def trigger() -> httpx.Response:
        with httpx.Client(base_url=platform.api_url, headers=headers, timeout=30) as http:
            return http.post(f"recurrent-requests/{request_id}/trigger")

    responses = _in_parallel(PARALLEL, trigger)
    assert [r.status_code for r in responses] == [200] * PARALLEL, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == PARALLEL - 1
    assert len(slow.targets(marker)) == 1
    with platform.http(key) as api:
        assert api.get(f"recurrent-requests/{request_id}").json()["state"]["run_count"] == 1


def test_sdk_triggers_that_time_out_and_retry_run_once_each(
    platform: LocalPlatform, slow: CountingUpstream
) -> None:
    key = platform.create_customer(f"retry-{uuid.uuid4().hex[:8]}")
    marker = uuid.uuid4().hex[:12]
    request_id = _recurrent(platform, key, marker)
    # Every first attempt times out (the upstream takes 0.4 s); the retries must wait for
    # it and get its answer, not run the upstream call again.
    outcomes: list[Any] = []
    with unitysvc.Client(key, base_url=platform.api_url, timeout=0.3, max_retries=6) as client:
        for _ in range(4):
            try:
                outcomes.append(client.recurrent_requests.trigger(request_id))
            except unitysvc.UnitysvcSDKError as exc:  # a retry budget spent is not the point
                outcomes.append(exc)
    assert len(slow.targets(marker)) == 4
    assert any(isinstance(outcome, dict) for outcome in outcomes), outcomes


def test_concurrent_creates_with_one_key_all_get_the_replay(platform: LocalPlatform) -> None:
    key = platform.create_customer(f"create-{uuid.uuid4().hex[:8]}")
    name = f"same-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"create-{name}"}

    def create() -> httpx.Response:
        with httpx.Client(base_url=platform.api_url, headers=headers, timeout=30) as http:
            return http.post("aliases/", json={"name": name, "target_path": "g/llm"})

    responses = _in_parallel(PARALLEL, create)
    assert [r.status_code for r in responses] == [201] * PARALLEL, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    with platform.http(key) as api:
        assert len([a for a in api.get("aliases/").json()["data"] if a["name"] == name]) == 1


def test_concurrent_enrollments_with_one_key_activate_once(platform: LocalPlatform) -> None:
    key = platform.create_customer(f"enroll-{uuid.uuid4().hex[:8]}")
    byoe = str(platform.app.runtime.catalog.service_by_name("demo-byoe").id)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"enroll-{uuid.uuid4()}"}
    body = {"service_id": byoe, "parameters": {"base_url": "http://127.0.0.1:9/x"}}

    def enroll() -> httpx.Response:
        with httpx.Client(base_url=platform.api_url, headers=headers, timeout=30) as http:
            return http.post("enrollments/", json=body)

    responses = _in_parallel(PARALLEL, enroll)
    assert [r.status_code for r in responses] == [202] * PARALLEL, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    with platform.http(key) as api:
        assert api.get("enrollments/").json()["count"] == 1


def test_a_different_request_under_a_key_in_use_is_refused_at_once(
    platform: LocalPlatform, slow: CountingUpstream
) -> None:
    key = platform.create_customer(f"other-{uuid.uuid4().hex[:8]}")
    marker = uuid.uuid4().hex[:12]
    first, second = _recurrent(platform, key, marker), _recurrent(platform, key, marker + "b")
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"shared-{marker}"}
    with httpx.Client(base_url=platform.api_url, headers=headers, timeout=30) as http:
        assert http.post(f"recurrent-requests/{first}/trigger").status_code == 200
        other = http.post(f"recurrent-requests/{second}/trigger")
    assert other.status_code == 409
    assert "different request" in other.json()["detail"]
    assert len(slow.targets(marker + "b")) == 0

"""End to end: BYOK secrets, the SSRF guard, per-customer rate limits, shutdown draining."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import FakeUpstream, wait_for

import unitysvc
from unitysvc_server.demo.upstreams import DEMO_BYOK_KEY
from unitysvc_server.testing import LocalPlatform

CHAT = {"model": "demo-byok", "messages": [{"role": "user", "content": "my key"}]}


def test_byok_without_and_with_the_secret(
    client: unitysvc.Client, service_id: Callable[[str], str]
) -> None:
    path = f"p/{service_id('demo-byok')}/chat/completions"
    missing = client.dispatch(path, json=CHAT)
    assert missing.status_code == 424
    body = missing.json()
    assert body["error_source"] == "gateway" and body["error_type"] == "missing_secret"
    assert "DEMO_API_KEY" in body["detail"] and body["missing_secrets"] == ["DEMO_API_KEY"]
    client.secrets.set("DEMO_API_KEY", "wrong-key")
    # The key is sent: the demo upstream itself refuses a wrong one.
    assert client.dispatch(path, json=CHAT).status_code == 401
    demo_key = DEMO_BYOK_KEY
    client.secrets.set("DEMO_API_KEY", demo_key)
    response = client.dispatch(path, json=CHAT)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "demo-byok"
    assert demo_key not in response.text


def test_private_byoe_upstream_refused_unless_allowed(fake: FakeUpstream) -> None:
    with LocalPlatform(demo=True, allow_private_upstreams=False) as platform:
        byoe = str(platform.app.runtime.catalog.service_by_name("demo-byoe").id)
        with platform.client(platform.create_customer("ssrf")) as client:
            enrollment = client.enrollments.create(
                service_id=byoe, parameters={"base_url": f"{fake.url}/internal"}
            ).wait(timeout=20)
            assert enrollment.status == "active", enrollment.record
            response = client.dispatch(f"e/{enrollment.code}/x", json={})
    assert response.status_code == 403
    assert response.json()["error_type"] == "forbidden_upstream"
    assert "--allow-private-upstreams" in response.json()["detail"]
    assert fake.count("/internal") == 0


def test_rate_limit_per_customer(fake: FakeUpstream) -> None:
    with LocalPlatform(demo=True, rate_limit_rps=0.5, rate_limit_burst=3) as platform:
        echo = str(platform.app.runtime.catalog.service_by_name("echo").id)
        first, second = platform.create_customer("busy"), platform.create_customer("calm")
        with httpx.Client(base_url=platform.gateway_url) as http:
            statuses = [
                http.post(f"/p/{echo}", json={}, headers={"Authorization": f"Bearer {first}"})
                for _ in range(4)
            ]
            other = http.post(f"/p/{echo}", json={}, headers={"Authorization": f"Bearer {second}"})
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    limited = statuses[-1]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error_type"] == "rate_limited"
    assert other.status_code == 200


def test_access_log_lines_are_structured_and_secret_free(
    client: unitysvc.Client,
    key: str,
    service_id: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
    marker: str,
) -> None:
    caplog.set_level(logging.INFO, logger="unitysvc_server.gateway.access")
    client.dispatch(f"p/{service_id('echo')}/{marker}?api_key=hunter2", json={})

    def lines() -> list[dict[str, Any]]:
        return [json.loads(r.getMessage()) for r in caplog.records if marker in r.getMessage()]

    # The line is written once the response has gone out, so it may trail the reply.
    wait_for(lines, what="the access-log line")
    assert len(lines()) == 1
    line = lines()[0]
    assert line["status"] == 200 and line["method"] == "POST"
    assert line["service_id"] == service_id("echo")
    assert line["duration_ms"] >= 0
    text = caplog.text
    assert "hunter2" not in text and key not in text


def test_no_log_row_lost_on_clean_shutdown(tmp_path: Path) -> None:
    with LocalPlatform(demo=True, data_dir=tmp_path) as platform:
        echo = str(platform.app.runtime.catalog.service_by_name("echo").id)
        key = platform.create_customer("burst")
        headers = {"Authorization": f"Bearer {key}"}

        async def burst() -> None:
            async with httpx.AsyncClient(base_url=platform.gateway_url) as http:
                await asyncio.gather(
                    *(
                        http.post(f"/l/p/{echo}/row-{i}", json={}, headers=headers)
                        for i in range(60)
                    )
                )

        asyncio.run(burst())
        platform.restart()  # clean stop (drains the writer), then start on the same data dir
        with httpx.Client(base_url=platform.api_url, headers=headers) as http:
            page = http.get("/request-logs", params={"limit": 200}).json()
    assert page["total_count"] == 60


def test_memoize_in_redis_survives_a_restart(
    tmp_path: Path, marker: str, redis_server_url: str, request: pytest.FixtureRequest
) -> None:
    redis_url = redis_server_url
    import redis

    store = redis.Redis.from_url(redis_url)
    request.addfinalizer(store.close)
    try:
        store.ping()
    except Exception as exc:  # say plainly which server, not a confusing miss later
        pytest.fail(f"Redis is not reachable at {redis_url}: {exc}")

    def entry_stored() -> bool:
        # This test's entry (its response echoes the marker): other tests and other
        # runs may share this Redis database and memoize their own responses.
        return any(
            marker.encode() in (store.get(key) or b"") for key in store.keys("unitysvc:memo:*")
        )

    # An explicit SQLite file: the restarted platform must find the same customer.
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'unitysvc.db'}"
    options = {
        "demo": True,
        "data_dir": tmp_path,
        "redis_url": redis_url,
        "database_url": database_url,
    }
    with LocalPlatform(**options) as first:
        key = first.create_customer("redis-memo")
        echo = str(first.app.runtime.catalog.service_by_name("echo").id)
        with first.client(key) as client:
            miss = client.dispatch(f"m/p/{echo}/{marker}?_ttl=60s", json={})
            assert miss.headers["x-unitysvc-cache"] == "miss"
            wait_for(entry_stored, what="the entry in Redis")
    # A new process-local cache would be empty: a hit can only come from Redis.
    with LocalPlatform(**options) as second, second.client(key) as client:
        hit = client.dispatch(f"m/p/{echo}/{marker}?_ttl=60s", json={})
    assert hit.headers.get("x-unitysvc-cache") == "hit", (hit.status_code, hit.text)
    assert hit.content == miss.content

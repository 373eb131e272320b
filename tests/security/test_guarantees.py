"""The guarantees the README's Security section makes, each held by a test.

* Isolation: one customer's objects — secrets, aliases, enrollments, recurrent
  requests, request logs — are invisible to another and cannot be routed through.
* At rest: after a realistic session (a secret, a BYOK dispatch logged in complete mode,
  an enrollment), no file in the data directory — database, write-ahead log, stored
  bodies, the invalidation file — holds a platform key or a secret value in clear.
* Bodies: the gateway refuses bodies over its limit (413) before dispatching them.

(SSRF, header limits, key handling, idempotency, revocation, dot-segments, JSON depth and
abandoned requests each have their own module in this directory.)
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx

from unitysvc_server.demo.upstreams import DEMO_BYOK_KEY
from unitysvc_server.testing import LocalPlatform


def test_one_customer_cannot_see_or_route_through_anothers_objects(
    platform: LocalPlatform,
) -> None:
    alice = platform.create_customer(f"alice-{uuid.uuid4().hex[:8]}")
    mallory = platform.create_customer(f"mallory-{uuid.uuid4().hex[:8]}")
    byoe = str(platform.app.runtime.catalog.service_by_name("demo-byoe").id)
    echo = str(platform.app.runtime.catalog.service_by_name("echo").id)
    with platform.client(alice) as client:
        client.secrets.set("ALICE_ONLY", "alice-secret-value-123")
        enrollment = client.enrollments.create(
            service_id=byoe, parameters={"base_url": "http://127.0.0.1:9/x"}
        ).wait(timeout=20)
    with platform.http(alice) as api:
        alias = api.post("aliases/", json={"name": "alice-alias", "target_path": f"p/{echo}"})
        recurring = api.post("recurrent-requests/", json={"request_path": f"p/{echo}/x"})
        assert alias.status_code == recurring.status_code == 201
        assert api.post("request-logs/start", json={}).status_code == 200
    with httpx.Client(base_url=platform.gateway_url) as http:
        logged = http.post(
            f"/p/{echo}/alice", json={}, headers={"Authorization": f"Bearer {alice}"}
        )
        assert logged.status_code == 200
    with platform.http(mallory) as api:
        assert api.get("secrets/ALICE_ONLY").status_code == 404
        assert api.get("secrets/").json()["count"] == 0
        assert api.get(f"aliases/{alias.json()['id']}").status_code == 404
        assert api.get(f"enrollments/{enrollment.id}").status_code == 404
        assert api.get(f"recurrent-requests/{recurring.json()['id']}").status_code == 404
        assert api.post(f"recurrent-requests/{recurring.json()['id']}/trigger").status_code == 404
        time.sleep(0.2)
        assert api.get("request-logs").json()["total_count"] == 0
    with httpx.Client(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {mallory}"}
    ) as http:
        assert http.post(f"/e/{enrollment.code}/x", json={}).status_code == 404
        assert http.post("/a/alice-alias/x", json={}).status_code == 404


def test_no_file_in_the_data_dir_holds_a_key_or_a_secret_in_clear(tmp_path: Path) -> None:
    with LocalPlatform(demo=True, data_dir=tmp_path / "data", database_url=None) as platform:
        key = platform.create_customer("at-rest")
        byok = str(platform.app.runtime.catalog.service_by_name("demo-byok").id)
        with platform.client(key) as client:
            client.secrets.set("DEMO_API_KEY", DEMO_BYOK_KEY)
            client.request_logs.start(truncate_long_message=False)  # complete bodies
            message = "x" * 20_000 + DEMO_BYOK_KEY  # long enough for the object store
            response = client.dispatch(
                f"p/{byok}/chat/completions",
                json={"model": "demo-byok", "messages": [{"role": "user", "content": message}]},
            )
            assert response.status_code == 200
            deadline = time.monotonic() + 10
            while not client.request_logs.list().items:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        data_dir = platform.data_dir
        is_sqlite = platform.settings.is_sqlite
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("unitysvc.db") for p in files) or not is_sqlite
    assert any("request-logs" in p.parts for p in files)
    for path in files:
        content = path.read_bytes()
        assert key.encode() not in content, path
        assert DEMO_BYOK_KEY.encode() not in content, path


def test_the_gateway_refuses_oversized_bodies_before_dispatching(
    platform: LocalPlatform, key: str, guarded_id: str, marker: str
) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=60) as http:
        response = http.post(
            f"/p/{guarded_id}/{marker}",
            content=b"x" * (32 * 1024 * 1024 + 1),
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 413
    assert response.json()["error_type"] == "body_too_large"

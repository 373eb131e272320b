"""``d/`` and ``r/`` end to end: 202 with the recurrent request, runs fired by the scheduler."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from gateway_helpers import FakeUpstream, wait_for

from unitysvc_server.testing import LocalPlatform


def gateway(platform: LocalPlatform, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def recurrent(platform: LocalPlatform, key: str, request_id: str) -> dict[str, Any]:
    with platform.http(key) as api:
        response = api.get(f"/recurrent-requests/{request_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def test_delayed_call_fires_once_as_the_caller(
    platform: LocalPlatform, key: str, fake: FakeUpstream, marker: str
) -> None:
    with gateway(platform, key) as gw:
        accepted = gw.post(
            f"/d/gwtest/flat/{marker}?_in=1s&k=v",
            json={"hello": "later"},
            headers={"X-Custom": "kept", "Cookie": "session=dropped"},
        )
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["kind"] == "delayed" and body["status"] == "active"
    assert body["request_path"] == f"gwtest/flat/{marker}?k=v"
    assert accepted.headers["location"] == f"/v1/recurrent-requests/{body['id']}"
    assert fake.count(f"/flat/{marker}") == 0  # not made now

    wait_for(lambda: recurrent(platform, key, body["id"])["state"]["run_count"] == 1, what="run")
    [hit] = [h for h in fake.hits if h["path"] == f"/flat/{marker}"]
    assert json.loads(hit["body"]) == {"hello": "later"}
    assert hit["query"] == "k=v"
    assert hit["headers"]["x-custom"] == "kept"
    assert "cookie" not in hit["headers"]
    assert all("svcpass_" not in value for value in hit["headers"].values())
    stored = recurrent(platform, key, body["id"])
    assert stored["schedule"]["schedule_type"] == "once"
    assert stored["state"]["next_run_at"] is None  # never again
    assert stored["state"]["success_count"] == 1 and stored["status"] == "active"
    assert "cookie" not in (stored["request_headers"] or {})


def test_recurrent_call_fires_on_its_schedule_and_is_managed_by_the_api(
    platform: LocalPlatform, key: str, fake: FakeUpstream, marker: str
) -> None:
    with gateway(platform, key) as gw:
        accepted = gw.post(f"/r/l/gwtest/flat/{marker}?_every=1s", json={"n": 1})
    assert accepted.status_code == 202, accepted.text
    request_id = accepted.json()["id"]
    assert accepted.json()["schedule"] == {"schedule_type": "interval", "interval_seconds": 1}
    wait_for(lambda: fake.count(f"/flat/{marker}") >= 2, what="two runs", timeout=20)
    with platform.http(key) as api:
        listed = api.get("/recurrent-requests/").json()["data"]
        assert request_id in [r["id"] for r in listed]
        # The stored path keeps the l/ wrapper: every run is logged, tagged with the request.
        wait_for(
            lambda: (
                api.get("/request-logs", params={"recurrent_request_id": request_id}).json()[
                    "total_count"
                ]
                >= 1
            ),
            what="a logged run",
        )
        assert api.delete(f"/recurrent-requests/{request_id}").status_code == 204
    # Deleted: it stops (a run leased just before the delete may still land).
    stopped = fake.count(f"/flat/{marker}")
    with platform.http(key) as api:
        assert api.get(f"/recurrent-requests/{request_id}").status_code == 404
    assert fake.count(f"/flat/{marker}") <= stopped + 1


def test_delayed_at_a_time_and_bad_schedules(platform: LocalPlatform, key: str) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    with gateway(platform, key) as gw:
        at = gw.post("/d/gwtest/flat/x", params={"_at": soon.isoformat()})
        assert at.status_code == 202, at.text
        assert datetime.fromisoformat(at.json()["next_run_at"]) == soon
        past = gw.post("/d/gwtest/flat/x", params={"_at": "2020-01-01T00:00:00Z"})
        assert past.status_code == 400 and "in the past" in past.json()["detail"]
        array = gw.post("/d/gwtest/flat/x?_in=1m", json=[1, 2])
        assert array.status_code == 400 and "JSON object" in array.json()["detail"]
        text = gw.post(
            "/r/gwtest/flat/x?_every=1m", content=b"plain", headers={"Content-Type": "text/plain"}
        )
        assert text.status_code == 400
    stored = recurrent(platform, key, at.json()["id"])
    assert stored["state"]["next_run_at"] is not None
    assert stored["schedule"] == {"schedule_type": "once", "run_at": soon.isoformat()}

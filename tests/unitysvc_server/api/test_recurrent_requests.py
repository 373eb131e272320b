"""``/v1/recurrent-requests`` over HTTP against a running platform."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform


@pytest.fixture
def api(platform: LocalPlatform, customer_key: str) -> Iterator[httpx.Client]:
    with platform.http(customer_key) as client:
        yield client


@pytest.fixture
def other(platform: LocalPlatform, other_customer_key: str) -> Iterator[httpx.Client]:
    with platform.http(other_customer_key) as client:
        yield client


HOURLY = {"schedule_type": "interval", "interval_seconds": 3600}


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/recurrent-requests/", json={"request_path": "g/llm", **body})
    assert response.status_code == 201, response.text
    return response.json()


def patch(api: httpx.Client, request_id: str, body: dict[str, Any]) -> httpx.Response:
    return api.patch(f"/recurrent-requests/{request_id}", json=body)


def locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [item["loc"] for item in response.json()["detail"]]


def test_create_is_a_draft_and_keeps_the_sent_path(
    api: httpx.Client, platform: LocalPlatform
) -> None:
    absolute = f"{platform.gateway_url.rstrip('/')}/g/llm/v1/chat/completions?x=1"
    created = create(
        api,
        request_path=absolute,
        http_method="post",
        body_template={"model": "demo-small", "messages": []},
        request_headers={"X-Unitysvc-Log-Request": "1"},
        name="nightly",
        service_id=str(uuid.uuid4()),
    )
    assert created["status"] == "draft"
    assert created["request_path"] == absolute
    assert created["http_method"] == "POST"
    assert created["state"]["gateway_path"] == "g/llm/v1/chat/completions?x=1"
    assert created["state"]["next_run_at"] is None
    assert created["schedule"] is None
    assert created["name"] == "nightly"
    assert api.get(f"/recurrent-requests/{created['id']}").json() == created


@pytest.mark.parametrize(
    ("sent", "fired"),
    [
        ("/g/llm/v1/chat/completions", "g/llm/v1/chat/completions"),
        ("a/my-alias", "a/my-alias"),
        ("${API_GATEWAY_BASE_URL}/p/groq", "p/groq"),
        ("https://gateway.example/l/p/echo/x?y=2", "l/p/echo/x?y=2"),
    ],
)
def test_request_path_is_normalised_for_firing(api: httpx.Client, sent: str, fired: str) -> None:
    created = create(api, request_path=sent)
    assert created["request_path"] == sent
    assert created["state"]["gateway_path"] == fired


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"request_path": ""}, ["body", "request_path"]),
        ({"request_path": "ftp://host/x"}, ["body", "request_path"]),
        ({"request_path": "g/../../etc"}, ["body", "request_path"]),
        ({"request_path": "g/llm", "http_method": "BREW"}, ["body", "http_method"]),
        (
            {"request_path": "g/llm", "request_headers": {"Authorization": "Bearer x"}},
            ["body", "request_headers", "Authorization"],
        ),
        (
            {"request_path": "g/llm", "request_headers": {"bad header": "x"}},
            ["body", "request_headers", "bad header"],
        ),
        ({"request_path": "g/llm", "name": "n" * 201}, ["body", "name"]),
        ({"request_path": "g/" + "x" * 2000}, ["body", "request_path"]),
    ],
)
def test_create_validation_names_the_field(
    api: httpx.Client, body: dict[str, Any], loc: list[Any]
) -> None:
    found = locs(api.post("/recurrent-requests/", json=body))
    assert any(item[: len(loc)] == loc for item in found), found


def test_attaching_a_schedule_activates_and_schedules(api: httpx.Client) -> None:
    created = create(api)
    before = datetime.now(UTC)
    active = patch(api, created["id"], {"schedule": HOURLY})
    assert active.status_code == 200, active.text
    body = active.json()
    assert body["status"] == "active"
    assert body["schedule"] == HOURLY
    next_run = datetime.fromisoformat(body["state"]["next_run_at"])
    assert before + timedelta(seconds=3590) <= next_run <= datetime.now(UTC) + timedelta(hours=1)
    assert body["state"]["run_count"] == 0 and body["state"]["last_run_at"] is None


def test_cron_schedule_is_normalised_and_next_run_is_on_the_minute(api: httpx.Client) -> None:
    created = create(api)
    body = patch(
        api,
        created["id"],
        {"schedule": {"schedule_type": "cron", "cron_expression": "*/5 * * * *"}},
    ).json()
    assert body["schedule"]["timezone"] == "UTC"
    next_run = datetime.fromisoformat(body["state"]["next_run_at"])
    assert next_run.minute % 5 == 0 and next_run.second == 0


@pytest.mark.parametrize(
    ("schedule", "loc"),
    [
        (
            {"schedule_type": "cron", "cron_expression": "nope"},
            ["body", "schedule", "cron_expression"],
        ),
        (
            {"schedule_type": "cron", "cron_expression": "* * * * *", "timezone": "Nowhere/City"},
            ["body", "schedule", "timezone"],
        ),
        (
            {"schedule_type": "interval", "interval_seconds": 0},
            ["body", "schedule", "interval_seconds"],
        ),
        ({"schedule_type": "hourly"}, ["body", "schedule", "schedule_type"]),
        (  # valid syntax, but February 30 never comes
            {"schedule_type": "cron", "cron_expression": "0 0 30 2 *"},
            ["body", "schedule", "cron_expression"],
        ),
        (
            {"schedule_type": "interval", "interval_seconds": 2**70},
            ["body", "schedule", "interval_seconds"],
        ),
    ],
)
def test_bad_schedules_are_422_naming_the_field(
    api: httpx.Client, schedule: dict[str, Any], loc: list[Any]
) -> None:
    created = create(api)
    assert loc in locs(patch(api, created["id"], {"schedule": schedule}))
    assert api.get(f"/recurrent-requests/{created['id']}").json()["status"] == "draft"


def test_lifecycle_pause_resume_cancel(api: httpx.Client) -> None:
    created = create(api)
    assert ["body", "schedule"] in locs(patch(api, created["id"], {"status": "active"}))
    patch(api, created["id"], {"schedule": HOURLY})
    paused = patch(api, created["id"], {"status": "paused"}).json()
    assert paused["status"] == "paused" and paused["state"]["next_run_at"] is None
    resumed = patch(api, created["id"], {"status": "active"}).json()
    assert resumed["status"] == "active" and resumed["state"]["next_run_at"] is not None
    assert patch(api, created["id"], {"status": "draft"}).status_code == 409
    cancelled = patch(api, created["id"], {"status": "cancelled"}).json()
    assert cancelled["status"] == "cancelled" and cancelled["state"]["next_run_at"] is None
    assert patch(api, created["id"], {"status": "active"}).status_code == 409
    assert patch(api, created["id"], {"name": "late"}).status_code == 409


def test_patch_replaces_headers_wholesale_and_keeps_other_fields(api: httpx.Client) -> None:
    created = create(api, request_headers={"X-A": "1", "X-B": "2"}, body_template={"k": "v"})
    updated = patch(api, created["id"], {"request_headers": {"X-C": "3"}, "name": "renamed"})
    body = updated.json()
    assert body["request_headers"] == {"X-C": "3"}
    assert body["body_template"] == {"k": "v"}
    assert body["name"] == "renamed"
    moved = patch(api, created["id"], {"request_path": "/p/echo/ping"}).json()
    assert moved["request_path"] == "/p/echo/ping"
    assert moved["state"]["gateway_path"] == "p/echo/ping"


def test_list_filters_and_paging(api: httpx.Client) -> None:
    service_id = str(uuid.uuid4())
    draft = create(api, service_id=service_id)
    active = create(api, service_id=service_id)
    patch(api, active["id"], {"schedule": HOURLY})
    create(api)  # another service

    by_service = api.get("/recurrent-requests", params={"service_id": service_id}).json()
    assert {r["id"] for r in by_service["data"]} == {draft["id"], active["id"]}
    assert by_service["count"] == 2
    only_active = api.get(
        "/recurrent-requests/", params={"service_id": service_id, "status": "active"}
    ).json()
    assert [r["id"] for r in only_active["data"]] == [active["id"]]
    page = api.get("/recurrent-requests/", params={"service_id": service_id, "limit": 1}).json()
    assert len(page["data"]) == 1 and page["count"] == 2
    assert api.get("/recurrent-requests/", params={"limit": 0}).status_code == 422
    assert api.get("/recurrent-requests/", params={"status": "sleeping"}).status_code == 422


def test_delete_is_204_then_404(api: httpx.Client) -> None:
    created = create(api)
    response = api.delete(f"/recurrent-requests/{created['id']}")
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/recurrent-requests/{created['id']}").status_code == 404
    assert api.delete(f"/recurrent-requests/{created['id']}").status_code == 404


def test_other_customers_requests_are_404(api: httpx.Client, other: httpx.Client) -> None:
    created = create(api)
    base = f"/recurrent-requests/{created['id']}"
    assert other.get(base).status_code == 404
    assert other.patch(base, json={"schedule": HOURLY}).status_code == 404
    assert other.post(f"{base}/trigger").status_code == 404
    assert other.delete(base).status_code == 404
    assert created["id"] not in {r["id"] for r in other.get("/recurrent-requests/").json()["data"]}
    assert api.get(base).json()["status"] == "draft"


def test_unknown_trigger_is_404(api: httpx.Client) -> None:
    assert api.post(f"/recurrent-requests/{uuid.uuid4()}/trigger").status_code == 404

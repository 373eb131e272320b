"""``/v1/preferences`` over HTTP: shapes, round trips, validation, isolation, effect."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform

Api = Callable[[], httpx.Client]


@pytest.fixture
def fresh(
    platform: LocalPlatform, contract_check: Callable[[httpx.Response], None]
) -> Iterator[Api]:
    """Contract-checked clients of new customers (preferences are per customer)."""
    opened: list[httpx.Client] = []

    def make() -> httpx.Client:
        client = platform.http(platform.create_customer(f"pref-{uuid.uuid4().hex[:10]}"))
        client.event_hooks["response"].append(contract_check)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def put(api: httpx.Client, name: str, value: Any) -> httpx.Response:
    return api.put(f"/preferences/{name}", json={"value": value})


def error(response: httpx.Response) -> tuple[list[Any], str]:
    assert response.status_code == 422, response.text
    [item] = response.json()["detail"]
    return item["loc"], item["msg"]


def test_list_shows_every_preference_unset(fresh: Api) -> None:
    api = fresh()
    body = api.get("/preferences/").json()
    assert [p["name"] for p in body["data"]] == ["notification", "ai", "request-log"]
    for pref in body["data"]:
        assert pref["account"]["type"] == "customer"
        assert pref["account"]["name"].startswith("pref-")
        uuid.UUID(pref["account"]["id"])
        assert pref["can_edit"] is True
        assert (pref["value"], pref["effective"], pref["source"]) == (None, None, None)
    assert api.get("/preferences").status_code == 200  # both slash forms


def test_request_log_round_trip_and_clear(fresh: Api) -> None:
    api = fresh()
    set_ = put(api, "request-log", "complete").json()
    assert (set_["value"], set_["effective"], set_["source"]) == ("complete", "complete", "account")
    assert api.get("/preferences/request-log").json() == set_
    listed = {p["name"]: p for p in api.get("/preferences/").json()["data"]}
    assert listed["request-log"]["value"] == "complete"
    assert put(api, "request-log", "truncated").json()["value"] == "truncated"
    cleared = api.delete("/preferences/request-log").json()
    assert (cleared["value"], cleared["source"]) == (None, None)
    assert api.delete("/preferences/request-log").status_code == 200  # idempotent
    put(api, "request-log", "complete")
    assert put(api, "request-log", None).json()["value"] is None  # null clears too
    assert api.get("/preferences/request-log").json()["value"] is None


def test_request_log_and_start_stop_are_one_setting(fresh: Api) -> None:
    api = fresh()
    put(api, "request-log", "complete")
    assert api.post("/request-logs/start").json() == {"enabled": True}
    assert api.get("/preferences/request-log").json()["value"] == "complete"
    api.post("/request-logs/stop")
    assert api.get("/preferences/request-log").json()["value"] is None
    api.post("/request-logs/start", params={"truncate_long_message": "false"})
    assert api.get("/preferences/request-log").json()["value"] == "complete"


@pytest.mark.parametrize("value", ["verbose", "", {"service": "complete"}])
def test_bad_request_log_value_names_the_allowed_ones(fresh: Api, value: Any) -> None:
    loc, msg = error(put(fresh(), "request-log", value))
    assert loc == ["body", "value"]
    assert "'truncated'" in msg and "'complete'" in msg


def test_unknown_name_is_404_listing_the_names(fresh: Api) -> None:
    api = fresh()
    for response in (
        api.get("/preferences/colour"),
        put(api, "colour", "blue"),
        api.delete("/preferences/colour"),
    ):
        assert response.status_code == 404, response.text
        assert "notification, ai, request-log" in response.json()["detail"]


def test_notification_accepts_service_paths_and_owned_objects(
    fresh: Api, platform: LocalPlatform
) -> None:
    api = fresh()
    small = platform.app.runtime.catalog.service_by_name("demo-small")
    assert small is not None
    for path in ("demo-small", f"p/{small.id}", "g/llm", "/demo-small/v1"):
        pref = put(api, "notification", path).json()
        assert pref["value"] == {"service": path.strip("/"), "gateway": "api"}, path
        assert pref["effective"] == pref["value"]
    # The object form is accepted too.
    assert put(api, "notification", {"service": "echo"}).json()["value"]["service"] == "echo"
    name = f"bc-{uuid.uuid4().hex[:8]}"
    loc, msg = error(put(api, "notification", f"b/{name}"))
    assert loc == ["body", "value"] and "no broadcast" in msg
    created = api.post("/broadcasts/", json={"name": name, "targets": []})
    assert created.status_code == 201, created.text
    assert put(api, "notification", f"b/{name}").json()["value"]["service"] == f"b/{name}"
    loc, msg = error(put(api, "notification", "e/ZZZZ"))
    assert "enrollment" in msg
    loc, msg = error(put(api, "notification", "nowhere/at-all"))
    assert "p/<service-id>" in msg and "b/<broadcast>" in msg and "e/<CODE>" in msg
    loc, _ = error(put(api, "notification", {"service": " "}))
    assert loc == ["body", "value", "service"]


def test_ai_accepts_services_and_own_aliases_but_not_enrollment_services(fresh: Api) -> None:
    api = fresh()
    assert put(api, "ai", "demo-small").json()["value"] == {
        "service": "demo-small",
        "gateway": None,
    }
    _, msg = error(put(api, "ai", "demo-byoe"))
    assert "enrollment" in msg
    _, msg = error(put(api, "ai", "a/mine"))
    assert "no alias" in msg
    alias = api.post("/aliases/", json={"name": "mine", "target_path": "demo-small/v1"})
    assert alias.status_code == 201, alias.text
    assert put(api, "ai", "a/mine").json()["value"]["service"] == "a/mine"
    _, msg = error(put(api, "ai", "g/llm"))
    assert "listed service" in msg


def test_preferences_are_per_customer(fresh: Api) -> None:
    alice, bob = fresh(), fresh()
    put(alice, "request-log", "complete")
    put(alice, "ai", "demo-small")
    bobs = {p["name"]: p["value"] for p in bob.get("/preferences/").json()["data"]}
    assert bobs == {"notification": None, "ai": None, "request-log": None}


def test_request_log_preference_turns_gateway_logging_on_and_off(
    fresh: Api, platform: LocalPlatform
) -> None:
    api = fresh()
    key = api.headers["authorization"].removeprefix("Bearer ")
    marker = uuid.uuid4().hex[:12]

    def call(tag: str) -> None:
        with httpx.Client(base_url=platform.gateway_url) as gateway:
            response = gateway.post(
                f"/echo/{marker}/{tag}",
                json={"n": 1},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200, response.text

    def logged(tag: str) -> int:
        page = api.get("/request-logs", params={"user_request_path": f"echo/{marker}/{tag}"})
        return int(page.json()["total_count"])

    call("off")
    put(api, "request-log", "truncated")
    call("on")
    deadline = time.monotonic() + 10
    while logged("on") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logged("on") == 1
    assert logged("off") == 0

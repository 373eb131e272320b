"""``/v1/budgets`` over HTTP: create/list/get/update/delete, status, validation, isolation.

Every response is checked against the budgets schemas of ``customer-openapi.json`` (our
extension, ``x-unitysvc-extension: budgets``).
"""

from __future__ import annotations

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
    """Contract-checked clients of new customers (budgets are per customer)."""
    opened: list[httpx.Client] = []

    def make() -> httpx.Client:
        client = platform.http(platform.create_customer(f"budget-{uuid.uuid4().hex[:10]}"))
        client.event_hooks["response"].append(contract_check)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def error(response: httpx.Response) -> tuple[list[Any], str]:
    detail = response.json()["detail"]
    assert isinstance(detail, list) and len(detail) == 1, detail
    return detail[0]["loc"], detail[0]["msg"]


def test_create_list_get_update_delete_round_trip(platform: LocalPlatform, fresh: Api) -> None:
    api = fresh()
    created = api.post("/budgets/", json={"name": "monthly", "cap": "25.50"})
    assert created.status_code == 201, created.text
    budget = created.json()
    assert budget["name"] == "monthly" and budget["scope"] == "all"
    assert budget["target"] is None and budget["cap"] == "25.5"
    assert budget["alert_threshold"] is None and budget["currency"] == "USD"
    status = budget["status"]
    assert (status["spent"], status["remaining"]) == ("0", "25.5")
    assert (status["alerting"], status["exhausted"]) == (False, False)
    assert status["cycle_start"].endswith("-01")

    service = platform.app.runtime.catalog.service_by_name("demo-small")
    assert service is not None
    second = api.post(
        "/budgets/",
        json={
            "name": "small-only",
            "scope": "service",
            "target": "demo-small",
            "cap": "1",
            "alert_threshold": "0.75",
        },
    ).json()
    assert second["target"] == str(service.id) and second["target_name"] == "demo-small"
    assert second["alert_threshold"] == "0.75"

    listed = api.get("/budgets/").json()
    assert listed["count"] == 2
    assert [b["name"] for b in listed["data"]] == ["monthly", "small-only"]
    assert api.get(f"/budgets/{budget['id']}").json()["name"] == "monthly"

    updated = api.patch(
        f"/budgets/{second['id']}", json={"cap": "2", "alert_threshold": None, "name": "small"}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["cap"] == "2" and updated.json()["alert_threshold"] is None
    assert updated.json()["name"] == "small" and updated.json()["scope"] == "service"
    # Absent fields stay.
    kept = api.patch(f"/budgets/{second['id']}", json={"alert_threshold": "1.5"}).json()
    assert (kept["cap"], kept["alert_threshold"], kept["name"]) == ("2", "1.5", "small")

    got = api.get(f"/budgets/{second['id']}/status").json()
    assert got["budget_id"] == second["id"] and got["cap"] == "2"

    assert api.delete(f"/budgets/{budget['id']}").status_code == 204
    assert api.get(f"/budgets/{budget['id']}").status_code == 404
    assert api.get("/budgets/").json()["count"] == 1


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({"name": "b", "cap": "0"}, ["body", "cap"], "greater than 0"),
        ({"name": "b", "cap": "-5"}, ["body", "cap"], "greater than 0"),
        ({"name": "b", "cap": "ten"}, ["body", "cap"], "not an amount"),
        ({"name": "b", "cap": "NaN"}, ["body", "cap"], "finite"),
        ({"name": "b", "cap": "1e10"}, ["body", "cap"], "at most"),
        ({"name": "b", "cap": "0.0000000000001"}, ["body", "cap"], "decimal places"),
        ({"name": "b", "cap": "5", "alert_threshold": "6"}, ["body", "alert_threshold"], "above"),
        ({"name": "b", "cap": "5", "alert_threshold": "0"}, ["body", "alert_threshold"], "> 0"),
        ({"name": "b", "cap": "5", "scope": "service"}, ["body", "target"], "needs a target"),
        (
            {"name": "b", "cap": "5", "scope": "service", "target": "nope"},
            ["body", "target"],
            "unknown service 'nope'",
        ),
        (
            {"name": "b", "cap": "5", "scope": "group", "target": "nope"},
            ["body", "target"],
            "unknown group 'nope'",
        ),
        (
            {"name": "b", "cap": "5", "scope": "key", "target": "svcpass_zzzz"},
            ["body", "target"],
            "svcpass_zzzz",
        ),
        ({"name": "b", "cap": "5", "target": "demo-small"}, ["body", "target"], "no target"),
        ({"name": " ", "cap": "5"}, ["body", "name"], "blank"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_the_fix(
    fresh: Api, body: dict[str, Any], loc: list[Any], words: str
) -> None:
    response = fresh().post("/budgets/", json=body)
    assert response.status_code == 422, response.text
    got_loc, message = error(response)
    assert got_loc == loc
    assert words.replace("> 0", "greater than 0") in message, message


def test_a_threshold_above_a_lowered_cap_is_refused(fresh: Api) -> None:
    api = fresh()
    budget = api.post("/budgets/", json={"name": "b", "cap": "5", "alert_threshold": "4"}).json()
    response = api.patch(f"/budgets/{budget['id']}", json={"cap": "3"})
    assert response.status_code == 422
    loc, message = error(response)
    assert loc == ["body", "alert_threshold"] and "(4) is above the cap (3)" in message
    assert api.get(f"/budgets/{budget['id']}").json()["cap"] == "5"  # unchanged


def test_names_are_unique_per_customer(fresh: Api) -> None:
    api, other = fresh(), fresh()
    assert api.post("/budgets/", json={"name": "same", "cap": "1"}).status_code == 201
    duplicate = api.post("/budgets/", json={"name": "same", "cap": "2"})
    assert duplicate.status_code == 409 and "'same'" in duplicate.json()["detail"]
    assert other.post("/budgets/", json={"name": "same", "cap": "1"}).status_code == 201


def test_a_key_target_takes_the_key_or_its_hint_and_shows_the_hint(
    platform: LocalPlatform, contract_check: Callable[[httpx.Response], None]
) -> None:
    name = f"keys-{uuid.uuid4().hex[:10]}"
    key = platform.create_customer(name)
    outsider = platform.create_customer(f"out-{uuid.uuid4().hex[:10]}")
    with platform.http(key) as api:
        api.event_hooks["response"].append(contract_check)
        whole = api.post(
            "/budgets/", json={"name": "k1", "cap": "1", "scope": "key", "target": key}
        )
        assert whole.status_code == 201, whole.text
        assert whole.json()["target"] == key[:12]
        assert key not in whole.text
        hinted = api.post(
            "/budgets/", json={"name": "k2", "cap": "1", "scope": "key", "target": key[:12]}
        )
        assert hinted.status_code == 201 and hinted.json()["target"] == key[:12]
        # Another customer's key is not one of yours: refused, and never echoed in full.
        foreign = api.post(
            "/budgets/", json={"name": "k3", "cap": "1", "scope": "key", "target": outsider}
        )
        assert foreign.status_code == 422 and outsider not in foreign.text
        assert outsider[:12] in foreign.text


def test_another_customer_cannot_see_or_touch_a_budget(fresh: Api) -> None:
    owner, other = fresh(), fresh()
    budget = owner.post("/budgets/", json={"name": "mine", "cap": "1"}).json()
    where = f"/budgets/{budget['id']}"
    assert other.get("/budgets/").json() == {"data": [], "count": 0}
    assert other.get(where).status_code == 404
    assert other.get(f"{where}/status").status_code == 404
    assert other.patch(where, json={"cap": "100"}).status_code == 404
    assert other.delete(where).status_code == 404
    assert owner.get(where).json()["cap"] == "1"


def test_budgets_need_a_key(platform: LocalPlatform) -> None:
    with platform.http() as anonymous:
        assert anonymous.get("/budgets/").status_code == 401
        assert anonymous.post("/budgets/", json={"name": "x", "cap": "1"}).status_code == 401

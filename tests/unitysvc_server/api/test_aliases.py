"""``/v1/aliases`` over HTTP against a running platform."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
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


def unique(prefix: str = "al") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/aliases/", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def error_locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [item["loc"] for item in response.json()["detail"]]


def test_create_get_list_update_delete(api: httpx.Client) -> None:
    name = unique()
    created = create(
        api,
        name=name,
        target_path="/g/llm",
        description="main route",
        request_routing_key={"model": "demo-small"},
    )
    assert created["name"] == name
    assert created["target_path"] == "g/llm"
    assert created["is_routing"] is True
    assert created["deactivated_at"] is None
    assert uuid.UUID(created["customer_id"])

    fetched = api.get(f"/aliases/{created['id']}").json()
    assert fetched == created

    listed = api.get("/aliases", params={"name": name})  # no trailing slash: no redirect
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["data"]] == [created["id"]]
    assert listed.json()["count"] == 1

    updated = api.patch(
        f"/aliases/{created['id']}", json={"description": "moved", "target_path": "p/echo"}
    ).json()
    assert updated["description"] == "moved"
    assert updated["target_path"] == "p/echo"
    assert updated["request_routing_key"] == {"model": "demo-small"}  # untouched
    assert updated["updated_at"] is not None

    deleted = api.delete(f"/aliases/{created['id']}")
    assert deleted.status_code == 200
    assert "deactivated" in deleted.json()["message"]
    assert api.get("/aliases/", params={"name": name}).json()["data"] == []
    hidden = api.get("/aliases/", params={"name": name, "include_deactivated": True}).json()
    assert hidden["data"][0]["deactivated_at"] is not None
    assert hidden["data"][0]["is_routing"] is False
    # Deleting again is harmless; changing a deactivated alias is a conflict.
    assert api.delete(f"/aliases/{created['id']}").status_code == 200
    assert api.patch(f"/aliases/{created['id']}", json={"description": "x"}).status_code == 409


def test_list_paging_and_total_count(api: httpx.Client) -> None:
    name = unique()
    ids = [create(api, name=name, target_path=f"p/t{i}", is_routing=False)["id"] for i in range(3)]
    first = api.get("/aliases/", params={"name": name, "limit": 2}).json()
    second = api.get("/aliases/", params={"name": name, "skip": 2, "limit": 2}).json()
    assert first["count"] == second["count"] == 3
    assert [a["id"] for a in first["data"] + second["data"]] == ids


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad Name!", "target_path": "g/llm"}, "name"),
        ({"name": "UPPER", "target_path": "g/llm"}, "name"),
        ({"name": "x" * 101, "target_path": "g/llm"}, "name"),
        ({"name": "ok-name", "target_path": "https://evil.example/x"}, "target_path"),
        ({"name": "ok-name", "target_path": "   "}, "target_path"),
        ({"name": "ok-name"}, "target_path"),
    ],
)
def test_validation_errors_name_the_field(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    locs = error_locs(api.post("/aliases/", json=body))
    assert ["body", field] in locs


def test_duplicate_target_is_a_conflict(api: httpx.Client) -> None:
    name = unique()
    create(api, name=name, target_path="g/llm")
    response = api.post("/aliases/", json={"name": name, "target_path": "g/llm"})
    assert response.status_code == 409
    assert name in response.json()["detail"]


def test_second_routing_create_is_created_non_routing(api: httpx.Client) -> None:
    name = unique()
    first = create(api, name=name, target_path="g/llm")
    second = create(api, name=name, target_path="p/echo")  # is_routing defaults to true
    assert first["is_routing"] is True
    assert second["is_routing"] is False
    # A different request routing key is a different routing slot.
    keyed = create(api, name=name, target_path="p/echo", request_routing_key={"model": "m"})
    assert keyed["is_routing"] is True


def test_patch_into_an_occupied_routing_slot_is_a_conflict(api: httpx.Client) -> None:
    name = unique()
    create(api, name=name, target_path="g/llm")
    keyed = create(api, name=name, target_path="p/echo", request_routing_key={"model": "m"})
    response = api.patch(f"/aliases/{keyed['id']}", json={"request_routing_key": None})
    assert response.status_code == 409
    assert api.get(f"/aliases/{keyed['id']}").json()["request_routing_key"] == {"model": "m"}


def test_name_is_immutable(api: httpx.Client) -> None:
    created = create(api, name=unique(), target_path="g/llm")
    response = api.patch(f"/aliases/{created['id']}", json={"name": "renamed"})
    assert response.status_code == 200
    assert response.json()["name"] == created["name"]


def test_switch_cycles_through_a_names_targets(api: httpx.Client) -> None:
    name = unique()
    rows = [create(api, name=name, target_path=f"p/provider-{i}") for i in range(3)]
    assert [r["is_routing"] for r in rows] == [True, False, False]

    seen = []
    for _ in range(4):
        result = api.post(f"/aliases/{name}/switch").json()
        seen.append((result["alias"]["target_path"], result["demoted_alias_id"]))
    assert seen == [
        ("p/provider-1", rows[0]["id"]),
        ("p/provider-2", rows[1]["id"]),
        ("p/provider-0", rows[2]["id"]),
        ("p/provider-1", rows[0]["id"]),
    ]
    routing = [
        a for a in api.get("/aliases/", params={"name": name}).json()["data"] if a["is_routing"]
    ]
    assert [a["id"] for a in routing] == [rows[1]["id"]]


def test_switch_by_full_and_partial_id_and_filters(api: httpx.Client) -> None:
    name = unique()
    anthropic = create(api, name=name, target_path="g/anthropic-llm")
    openai = create(
        api, name=name, target_path="g/openai-llm", request_routing_key={"model": "gpt-opus"}
    )
    plain = create(api, name=name, target_path="p/plain")
    assert openai["is_routing"] is True and plain["is_routing"] is False

    by_filter = api.post(f"/aliases/{name}/switch", params={"target": "PLAIN"}).json()
    assert by_filter["alias"]["id"] == plain["id"]
    assert by_filter["demoted_alias_id"] == anthropic["id"]

    by_key = api.post(f"/aliases/{name}/switch", params={"routing_key": "opus", "on": False})
    assert by_key.json()["alias"]["id"] == openai["id"]
    assert by_key.json()["alias"]["is_routing"] is False
    assert by_key.json()["demoted_alias_id"] is None

    partial = anthropic["id"].replace("-", "")[:12]
    by_partial = api.post(f"/aliases/{partial}/switch").json()
    assert by_partial["alias"]["id"] == anthropic["id"]
    assert by_partial["demoted_alias_id"] == plain["id"]

    by_id = api.post(f"/aliases/{openai['id']}/switch").json()
    assert by_id["alias"]["is_routing"] is True
    assert by_id["demoted_alias_id"] is None  # its routing slot was empty

    # Switching on a row that already routes changes nothing.
    again = api.post(f"/aliases/{openai['id']}/switch").json()
    assert again["alias"]["is_routing"] is True and again["demoted_alias_id"] is None


def test_switch_unknown_or_filtered_out_is_404(api: httpx.Client) -> None:
    name = unique()
    create(api, name=name, target_path="g/llm")
    assert api.post(f"/aliases/{unique()}/switch").status_code == 404
    assert api.post(f"/aliases/{name}/switch", params={"target": "nowhere"}).status_code == 404
    assert api.post(f"/aliases/{uuid.uuid4()}/switch").status_code == 404


def test_concurrent_switches_leave_exactly_one_routing_row(
    platform: LocalPlatform, customer_key: str, api: httpx.Client
) -> None:
    name = unique()
    rows = [create(api, name=name, target_path=f"p/t{i}") for i in range(4)]
    barrier = threading.Barrier(len(rows))
    statuses: list[int] = []

    def switch(alias_id: str) -> None:
        with httpx.Client(
            base_url=platform.api_url, headers={"Authorization": f"Bearer {customer_key}"}
        ) as client:
            barrier.wait(timeout=10)
            statuses.append(client.post(f"/aliases/{alias_id}/switch").status_code)

    threads = [threading.Thread(target=switch, args=(row["id"],)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # A switch that lost a race may answer 409 (retry); none may fail otherwise.
    assert statuses and all(status in (200, 409) for status in statuses)
    assert statuses.count(200) >= 1
    listed = api.get("/aliases/", params={"name": name}).json()["data"]
    assert sum(a["is_routing"] for a in listed) == 1


def test_other_customers_aliases_are_invisible(api: httpx.Client, other: httpx.Client) -> None:
    name = unique()
    mine = create(api, name=name, target_path="g/llm")
    assert other.get(f"/aliases/{mine['id']}").status_code == 404
    assert other.patch(f"/aliases/{mine['id']}", json={"description": "x"}).status_code == 404
    assert other.delete(f"/aliases/{mine['id']}").status_code == 404
    assert other.post(f"/aliases/{mine['id']}/switch").status_code == 404
    assert other.post(f"/aliases/{name}/switch").status_code == 404
    assert other.get("/aliases/", params={"name": name}).json()["data"] == []
    # The other customer may use the same name independently.
    theirs = other.post("/aliases/", json={"name": name, "target_path": "g/llm"})
    assert theirs.status_code == 201 and theirs.json()["is_routing"] is True
    assert api.get(f"/aliases/{mine['id']}").json()["is_routing"] is True


def test_anonymous_is_401(platform: LocalPlatform) -> None:
    assert httpx.get(f"{platform.api_url}/aliases/").status_code == 401

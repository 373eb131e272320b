"""``/v1/chains`` over HTTP against a running platform."""

from __future__ import annotations

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


def unique() -> str:
    return f"ch-{uuid.uuid4().hex[:10]}"


def step(name: str, sort_order: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "target_path": f"p/{name}", "sort_order": sort_order, **extra}


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/chains/", json={"name": unique(), **body})
    assert response.status_code == 201, response.text
    return response.json()


def locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [item["loc"] for item in response.json()["detail"]]


def test_create_applies_contract_defaults_and_orders_steps(api: httpx.Client) -> None:
    chain = create(api, steps=[step("second", 2), step("first", 1, on_success="continue")])
    assert chain["default_timeout_ms"] == 10_000
    assert chain["enabled"] is True
    assert [s["name"] for s in chain["steps"]] == ["first", "second"]
    first, second = chain["steps"]
    assert (first["on_success"], first["on_failure"]) == ("continue", "relay")
    assert (second["on_success"], second["on_failure"]) == ("stop", "relay")
    assert all(s["chain_id"] == chain["id"] for s in chain["steps"])
    assert api.get(f"/chains/{chain['id']}").json() == chain


def test_list_get_patch_delete(api: httpx.Client) -> None:
    chain = create(api, description="failover")
    listed = api.get("/chains").json()  # no trailing slash: answered directly
    assert chain["id"] in {c["id"] for c in listed["data"]}
    assert listed["count"] >= 1

    patched = api.patch(
        f"/chains/{chain['id']}", json={"enabled": False, "default_timeout_ms": 2500}
    ).json()
    assert patched["enabled"] is False and patched["default_timeout_ms"] == 2500
    assert patched["description"] == "failover"

    deleted = api.delete(f"/chains/{chain['id']}")
    assert deleted.status_code == 200 and isinstance(deleted.json(), dict)
    assert api.get(f"/chains/{chain['id']}").status_code == 404


def test_steps_replace_add_patch_remove(api: httpx.Client) -> None:
    chain = create(api, steps=[step("old", 0)])
    replaced = api.put(f"/chains/{chain['id']}/steps", json=[step("a", 0), step("b", 1)])
    assert replaced.status_code == 200
    assert [s["name"] for s in replaced.json()["steps"]] == ["a", "b"]

    added = api.post(f"/chains/{chain['id']}/steps", json=step("c", 5, timeout_ms=1500))
    assert added.status_code == 201
    assert added.json()["timeout_ms"] == 1500 and added.json()["on_failure"] == "relay"

    step_id = added.json()["id"]
    patched = api.patch(
        f"/chains/{chain['id']}/steps/{step_id}", json={"sort_order": -1, "on_failure": "stop"}
    )
    assert patched.status_code == 200 and patched.json()["on_failure"] == "stop"
    too_big = api.patch(f"/chains/{chain['id']}/steps/{step_id}", json={"sort_order": 2**31})
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["body", "sort_order"]
    current = api.get(f"/chains/{chain['id']}").json()
    assert [s["name"] for s in current["steps"]] == ["c", "a", "b"]

    removed = api.delete(f"/chains/{chain['id']}/steps/{step_id}")
    assert removed.status_code == 200 and isinstance(removed.json(), dict)
    assert [s["name"] for s in api.get(f"/chains/{chain['id']}").json()["steps"]] == ["a", "b"]
    assert api.delete(f"/chains/{chain['id']}/steps/{step_id}").status_code == 404


def test_duplicate_name_is_a_conflict(api: httpx.Client) -> None:
    chain = create(api)
    response = api.post("/chains/", json={"name": chain["name"]})
    assert response.status_code == 409
    assert chain["name"] in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "has space"}, ["body", "name"]),
        ({"name": "a/b"}, ["body", "name"]),
        ({"name": "x" * 65}, ["body", "name"]),
        ({"name": "ok", "default_timeout_ms": 0}, ["body", "default_timeout_ms"]),
        (
            {"name": "ok", "steps": [step("s", 0, on_failure="explode")]},
            ["body", "steps", 0, "on_failure"],
        ),
        (
            {"name": "ok", "steps": [step("s", 0), {**step("t", 1), "target_path": "http://x"}]},
            ["body", "steps", 1, "target_path"],
        ),
        ({"name": "ok", "steps": [{"name": "s", "target_path": "p/x"}]}, None),
        # Beyond the 32-bit column (PostgreSQL): refused, not a driver error.
        ({"name": "ok", "steps": [step("s", 2**31)]}, ["body", "steps", 0, "sort_order"]),
        ({"name": "ok", "steps": [step("s", -(2**70))]}, ["body", "steps", 0, "sort_order"]),
    ],
)
def test_create_validation_names_the_field(
    api: httpx.Client, body: dict[str, Any], loc: list[Any] | None
) -> None:
    found = locs(api.post("/chains/", json=body))
    if loc is None:  # a missing required step field is reported by the schema
        assert any(item[-1] == "sort_order" for item in found)
    else:
        assert loc in found


def test_step_validation_names_the_field(api: httpx.Client) -> None:
    chain = create(api, steps=[step("a", 0)])
    bad_put = api.put(f"/chains/{chain['id']}/steps", json=[step("a", 0, timeout_ms=-1)])
    assert ["body", 0, "timeout_ms"] in locs(bad_put)
    step_id = chain["steps"][0]["id"]
    bad_patch = api.patch(f"/chains/{chain['id']}/steps/{step_id}", json={"on_success": "maybe"})
    assert ["body", "on_success"] in locs(bad_patch)
    null_patch = api.patch(f"/chains/{chain['id']}/steps/{step_id}", json={"target_path": None})
    assert ["body", "target_path"] in locs(null_patch)
    # The failed requests changed nothing.
    assert api.get(f"/chains/{chain['id']}").json()["steps"] == chain["steps"]


def test_other_customers_chains_are_404(api: httpx.Client, other: httpx.Client) -> None:
    chain = create(api, steps=[step("a", 0)])
    step_id = chain["steps"][0]["id"]
    base = f"/chains/{chain['id']}"
    assert other.get(base).status_code == 404
    assert other.patch(base, json={"enabled": False}).status_code == 404
    assert other.put(f"{base}/steps", json=[]).status_code == 404
    assert other.post(f"{base}/steps", json=step("x", 1)).status_code == 404
    assert other.patch(f"{base}/steps/{step_id}", json={"sort_order": 3}).status_code == 404
    assert other.delete(f"{base}/steps/{step_id}").status_code == 404
    assert other.delete(base).status_code == 404
    assert chain["id"] not in {c["id"] for c in other.get("/chains/").json()["data"]}
    # The same name is free for the other customer.
    assert other.post("/chains/", json={"name": chain["name"]}).status_code == 201
    assert api.get(base).json()["steps"] == chain["steps"]

"""``/v1/broadcasts`` over HTTP against a running platform."""

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
    return f"bc-{uuid.uuid4().hex[:10]}"


def target(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "target_path": f"p/{name}", **extra}


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/broadcasts/", json={"name": unique(), **body})
    assert response.status_code == 201, response.text
    return response.json()


def locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [item["loc"] for item in response.json()["detail"]]


def test_create_applies_contract_defaults(api: httpx.Client) -> None:
    broadcast = create(
        api, targets=[target("b", sort_order=2), target("a", routing_key_override={"model": "x"})]
    )
    assert broadcast["mode"] == "sync"
    assert broadcast["target_timeout_ms"] == 30_000
    assert broadcast["enabled"] is True
    assert [t["name"] for t in broadcast["targets"]] == ["a", "b"]
    assert broadcast["targets"][0]["sort_order"] == 0
    assert broadcast["targets"][0]["routing_key_override"] == {"model": "x"}
    assert api.get(f"/broadcasts/{broadcast['id']}").json() == broadcast


def test_list_patch_delete(api: httpx.Client) -> None:
    broadcast = create(api)
    assert broadcast["id"] in {b["id"] for b in api.get("/broadcasts").json()["data"]}
    patched = api.patch(
        f"/broadcasts/{broadcast['id']}",
        json={"mode": "async", "target_timeout_ms": 500, "description": "fan"},
    ).json()
    assert (patched["mode"], patched["target_timeout_ms"], patched["description"]) == (
        "async",
        500,
        "fan",
    )
    deleted = api.delete(f"/broadcasts/{broadcast['id']}")
    assert deleted.status_code == 200 and isinstance(deleted.json(), dict)
    assert api.get(f"/broadcasts/{broadcast['id']}").status_code == 404


def test_targets_replace_add_remove(api: httpx.Client) -> None:
    broadcast = create(api, targets=[target("old")])
    replaced = api.put(
        f"/broadcasts/{broadcast['id']}/targets", json=[target("x"), target("y", sort_order=1)]
    )
    assert [t["name"] for t in replaced.json()["targets"]] == ["x", "y"]
    added = api.post(f"/broadcasts/{broadcast['id']}/targets", json=target("z", sort_order=9))
    assert added.status_code == 201 and added.json()["broadcast_id"] == broadcast["id"]
    removed = api.delete(f"/broadcasts/{broadcast['id']}/targets/{added.json()['id']}")
    assert removed.status_code == 200 and isinstance(removed.json(), dict)
    names = [t["name"] for t in api.get(f"/broadcasts/{broadcast['id']}").json()["targets"]]
    assert names == ["x", "y"]


def test_duplicate_name_is_a_conflict(api: httpx.Client) -> None:
    broadcast = create(api)
    assert api.post("/broadcasts/", json={"name": broadcast["name"]}).status_code == 409


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "bad name"}, ["body", "name"]),
        ({"name": "ok", "mode": "later"}, ["body", "mode"]),
        ({"name": "ok", "target_timeout_ms": 10**9}, ["body", "target_timeout_ms"]),
        (
            {"name": "ok", "targets": [{"name": "t", "target_path": "https://x.test/"}]},
            ["body", "targets", 0, "target_path"],
        ),
        (
            {"name": "ok", "targets": [{"name": "t", "target_path": "g/x", "sort_order": 2**40}]},
            ["body", "targets", 0, "sort_order"],
        ),
    ],
)
def test_validation_names_the_field(
    api: httpx.Client, body: dict[str, Any], loc: list[Any]
) -> None:
    found = locs(api.post("/broadcasts/", json=body))
    assert any(item[: len(loc)] == loc for item in found), found


def test_patch_null_mode_is_rejected(api: httpx.Client) -> None:
    broadcast = create(api)
    assert ["body", "mode"] in locs(
        api.patch(f"/broadcasts/{broadcast['id']}", json={"mode": None})
    )


def test_other_customers_broadcasts_are_404(api: httpx.Client, other: httpx.Client) -> None:
    broadcast = create(api, targets=[target("a")])
    base = f"/broadcasts/{broadcast['id']}"
    target_id = broadcast["targets"][0]["id"]
    assert other.get(base).status_code == 404
    assert other.patch(base, json={"enabled": False}).status_code == 404
    assert other.put(f"{base}/targets", json=[]).status_code == 404
    assert other.post(f"{base}/targets", json=target("x")).status_code == 404
    assert other.delete(f"{base}/targets/{target_id}").status_code == 404
    assert other.delete(base).status_code == 404
    assert broadcast["id"] not in {b["id"] for b in other.get("/broadcasts/").json()["data"]}
    assert api.get(base).json()["targets"] == broadcast["targets"]

"""``/v1/groups``: platform groups, collections, members, group services (over HTTP)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform

GROQ = Path(__file__).parents[1] / "data" / "catalogs" / "groq"


@pytest.fixture(scope="module")
def platform_options() -> dict[str, Any]:
    return {"demo": True, "catalogs": [GROQ]}


@pytest.fixture(scope="module")
def service_ids(platform: LocalPlatform) -> dict[str, str]:
    with platform.http() as anon:
        data = anon.get("groups/all_services/services", params={"limit": 200}).json()["data"]
    return {s["name"]: s["id"] for s in data}


def new_collection(api: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"c-{uuid.uuid4().hex[:8]}")
    r = api.post("groups", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


# -- platform groups -----------------------------------------------------------


def test_group_views_carry_the_0_2_1_fields(api: httpx.Client, service_ids: dict[str, str]) -> None:
    llm = next(g for g in api.get("groups").json()["data"] if g["name"] == "llm")
    assert set(llm["service_ids"]) == {
        service_ids[n] for n in ("demo-small", "demo-medium", "demo-large")
    }
    assert llm["is_default"] is False and llm["owner_id"] is None
    mine = new_collection(api, name=f"c-{uuid.uuid4().hex[:8]}")
    api.post(f"groups/{mine['id']}/members", json={"service_id": service_ids["echo"]})
    listed = next(g for g in api.get("groups").json()["data"] if g["id"] == mine["id"])
    assert listed["service_ids"] == [service_ids["echo"]] and listed["owner_id"]
    groups = api.get("groups").json()["data"]
    assert {g["group_type"] for g in groups} <= {"category", "collection", "open", "keyed"}


def test_anonymous_list_is_platform_groups_in_order(anonymous_api: httpx.Client) -> None:
    r = anonymous_api.get("groups")
    assert r.status_code == 200
    body = r.json()
    assert [g["name"] for g in body["data"]] == ["all_services", "llm"]
    assert body["count"] == 2
    all_services, llm = body["data"]
    assert all_services["owner_type"] == "platform" and not all_services["editable"]
    assert all_services["member_count"] == 23
    assert llm["group_type"] == "open" and llm["member_count"] == 3


def test_anonymous_owner_own_is_401_and_bad_owner_is_422(anonymous_api: httpx.Client) -> None:
    assert anonymous_api.get("groups", params={"owner": "own"}).status_code == 401
    r = anonymous_api.get("groups", params={"owner": "everyone"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "owner"]


def test_platform_group_detail_by_name_and_id(anonymous_api: httpx.Client) -> None:
    r = anonymous_api.get("groups/llm")
    assert r.status_code == 200
    llm = r.json()
    assert llm["editable"] is False and llm["enabled"] is None
    assert llm["routing_policy"] == {"name": "weighted_random", "content_dependent": True}
    interface = llm["interface"]
    assert interface["group_name"] == "llm"
    assert interface["base_url"].endswith("/g/llm/v1")
    assert interface["base_url"].startswith("http://127.0.0.1:")
    by_id = anonymous_api.get(f"groups/{llm['id']}").json()
    assert by_id["name"] == "llm"
    missing = anonymous_api.get("groups/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_platform_groups_are_read_only(api: httpx.Client) -> None:
    llm_id = api.get("groups/llm").json()["id"]
    assert api.patch(f"groups/{llm_id}", json={"description": "x"}).status_code == 403
    assert api.delete(f"groups/{llm_id}").status_code == 403
    members = api.get(f"groups/{llm_id}/members")
    assert members.status_code == 200 and len(members.json()) == 3
    r = api.post(f"groups/{llm_id}/members", json={"service_id": str(uuid.uuid4())})
    assert r.status_code == 403


# -- group services -------------------------------------------------------------


def test_group_services_pages_newest_first_without_gaps(anonymous_api: httpx.Client) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        r = anonymous_api.get("groups/all_services/services", params=params)
        assert r.status_code == 200
        page = r.json()
        seen.extend(s["id"] for s in page["data"])
        pages += 1
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert pages == 5 and len(seen) == 23 and len(set(seen)) == 23
    everything = anonymous_api.get("groups/all_services/services", params={"limit": 200}).json()
    names = [s["name"] for s in everything["data"]]
    assert [s["id"] for s in everything["data"]] == seen
    demo_order = [n for n in names if n.startswith("demo-") or n == "echo"]
    # demo listings are dated in this order: small (oldest) ... echo (newest)
    assert demo_order == [
        "echo",
        "demo-down",
        "demo-byoe",
        "demo-byok",
        "demo-large",
        "demo-medium",
        "demo-small",
    ]
    assert names[0].startswith(("groq/", "whisper", "canopylabs/", "meta-llama/"))
    assert everything["data"][0]["gateway_type"] == "api"


def test_group_services_search_and_errors(anonymous_api: httpx.Client) -> None:
    def names(**params: Any) -> list[str]:
        r = anonymous_api.get("groups/all_services/services", params=params)
        assert r.status_code == 200
        return [s["name"] for s in r.json()["data"]]

    assert names(search="DEMO-SM") == ["demo-small"]
    assert len(names(search="groq", limit=200)) == 16  # provider_name matches
    assert names(search="Llama 3.1 8B") == ["groq/llama-3.1-8b-instant"]  # display_name
    assert set(names(search="demo")) >= {"demo-small", "demo-byoe"}
    bad = anonymous_api.get("groups/all_services/services", params={"cursor": "garbage!"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
    assert anonymous_api.get("groups/llm/services", params={"limit": 0}).status_code == 422
    assert anonymous_api.get("groups/llm/services", params={"limit": 201}).status_code == 422
    assert anonymous_api.get("groups/nope/services").status_code == 404
    llm = anonymous_api.get("groups/llm/services").json()["data"]
    assert {s["name"] for s in llm} == {"demo-small", "demo-medium", "demo-large"}


# -- collections -------------------------------------------------------------------


def test_collection_lifecycle(api: httpx.Client, service_ids: dict[str, str]) -> None:
    created = new_collection(api, name="my-models", display_name="Mine", description="d")
    assert created["owner_type"] == "customer" and created["editable"] is True
    assert created["group_type"] == "collection" and created["member_count"] == 0
    cid = created["id"]

    listed = api.get("groups").json()["data"]
    assert [g["name"] for g in listed][:2] == ["all_services", "llm"]
    assert "my-models" in [g["name"] for g in listed]
    own = api.get("groups", params={"owner": "own"}).json()["data"]
    assert all(g["owner_type"] == "customer" for g in own)
    system = api.get("groups", params={"owner": "system"}).json()["data"]
    assert all(g["owner_type"] == "platform" for g in system)

    detail = api.get(f"groups/{cid}").json()
    assert detail["enabled"] is True and detail["interface"] is None
    assert detail["routing_policy"] is None and detail["editable"] is True

    small = service_ids["demo-small"]
    r = api.post(f"groups/{cid}/members", json={"service_id": small, "routing_key": {"model": "x"}})
    assert r.status_code == 201
    assert r.json()["service_id"] == small and r.json()["routing_key"] == {"model": "x"}
    assert api.post(f"groups/{cid}/members", json={"service_id": small}).status_code == 409
    clash = api.post(
        f"groups/{cid}/members",
        json={"service_id": service_ids["demo-large"], "routing_key": {"model": "x"}},
    )
    assert clash.status_code == 409
    members = api.get(f"groups/{cid}/members").json()
    assert [m["service_id"] for m in members] == [small]
    assert api.get(f"groups/{cid}").json()["group_type"] == "open"

    services = api.get(f"groups/{cid}/services").json()["data"]
    assert [s["name"] for s in services] == ["demo-small"]

    patched = api.patch(f"groups/{cid}", json={"display_name": "Renamed", "enabled": False})
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "Renamed" and patched.json()["enabled"] is False
    assert patched.json()["description"] == "d" and patched.json()["member_count"] == 1

    assert api.delete(f"groups/{cid}/members/{small}").status_code == 204
    assert api.delete(f"groups/{cid}/members/{small}").status_code == 404
    assert api.delete(f"groups/{cid}").status_code == 204
    assert api.get(f"groups/{cid}").status_code == 404
    assert api.delete(f"groups/{cid}").status_code == 404


def test_collection_names_and_scopes(api: httpx.Client) -> None:
    new_collection(api, name="dup-name")
    assert api.post("groups", json={"name": "dup-name"}).status_code == 409
    shared = api.post("groups", params={"shared": "true"}, json={"name": "dup-name"})
    assert shared.status_code == 201
    only_shared = api.get("groups", params={"shared": "true"}).json()["data"]
    assert [g["id"] for g in only_shared] == [shared.json()["id"]]
    bad = api.post("groups", json={"name": "Has Spaces"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "name"]
    assert api.post("groups", json={"name": "llm"}).status_code == 409
    assert api.post("groups", json={}).status_code == 422
    for field, limit in (("display_name", 200), ("description", 2000)):
        too_long = api.post("groups", json={"name": "long-text", field: "x" * (limit + 1)})
        assert too_long.status_code == 422
        assert too_long.json()["detail"][0]["loc"] == ["body", field]
        patched = api.patch(f"groups/{shared.json()['id']}", json={field: "x" * (limit + 1)})
        assert patched.status_code == 422
        assert patched.json()["detail"][0]["loc"] == ["body", field]


def test_members_must_be_dispatchable_and_at_most_twenty(
    api: httpx.Client, service_ids: dict[str, str]
) -> None:
    cid = new_collection(api)["id"]
    byoe = api.post(f"groups/{cid}/members", json={"service_id": service_ids["demo-byoe"]})
    assert byoe.status_code == 403 and "enrollment" in byoe.json()["detail"]
    unknown = api.post(f"groups/{cid}/members", json={"service_id": str(uuid.uuid4())})
    assert unknown.status_code == 404
    addable = [sid for name, sid in service_ids.items() if name != "demo-byoe"]
    assert len(addable) >= 21
    for sid in addable[:20]:
        assert api.post(f"groups/{cid}/members", json={"service_id": sid}).status_code == 201
    full = api.post(f"groups/{cid}/members", json={"service_id": addable[20]})
    assert full.status_code == 409 and "20" in full.json()["detail"]
    bad_key = api.post(
        f"groups/{new_collection(api)['id']}/members",
        json={"service_id": addable[0], "routing_key": {"model": {"nested": 1}}},
    )
    assert bad_key.status_code == 422
    bad_order = api.post(
        f"groups/{new_collection(api)['id']}/members",
        json={"service_id": addable[0], "sort_order": 2**40},
    )
    assert bad_order.status_code == 422
    assert bad_order.json()["detail"][0]["loc"] == ["body", "sort_order"]


def test_a_failed_request_writes_nothing(
    platform: LocalPlatform, service_ids: dict[str, str]
) -> None:
    # One transaction per request: PUT /services/{id}/groups first adds the
    # service to one collection and creates Favorites, then finds the other
    # collection full (409) -- none of it may remain.
    addable = [sid for name, sid in service_ids.items() if name != "demo-byoe"]
    with platform.http(platform.create_customer(f"tx-{uuid.uuid4().hex[:8]}")) as api:
        empty = new_collection(api, name="a-empty")["id"]
        full = new_collection(api, name="z-full")["id"]
        for sid in addable[:20]:
            assert api.post(f"groups/{full}/members", json={"service_id": sid}).status_code == 201
        before = api.get("groups", params={"owner": "own"}).json()["data"]
        response = api.put(
            f"services/{addable[20]}/groups",
            json={"group_ids": [empty, full], "include_default": True},
        )
        assert response.status_code == 409, response.text
        assert api.get(f"groups/{empty}/members").json() == []
        assert len(api.get(f"groups/{full}/members").json()) == 20
        assert api.get("groups", params={"owner": "own"}).json()["data"] == before


def test_collections_are_isolated_between_customers(
    api: httpx.Client, other_api: httpx.Client, service_ids: dict[str, str]
) -> None:
    cid = new_collection(api, name="private-one")["id"]
    assert "private-one" not in [g["name"] for g in other_api.get("groups").json()["data"]]
    assert other_api.get(f"groups/{cid}").status_code == 404
    assert other_api.patch(f"groups/{cid}", json={"description": "x"}).status_code == 404
    assert other_api.delete(f"groups/{cid}").status_code == 404
    assert other_api.get(f"groups/{cid}/members").status_code == 404
    assert other_api.get(f"groups/{cid}/services").status_code == 404
    r = other_api.post(f"groups/{cid}/members", json={"service_id": service_ids["echo"]})
    assert r.status_code == 404
    # the other customer may use the same name in their own scope
    assert other_api.post("groups", json={"name": "private-one"}).status_code == 201
    assert api.get(f"groups/{cid}").status_code == 200


def test_anonymous_cannot_manage_collections(anonymous_api: httpx.Client) -> None:
    assert anonymous_api.post("groups", json={"name": "x1"}).status_code == 401
    gid = str(uuid.uuid4())
    assert anonymous_api.get(f"groups/{gid}/members").status_code == 401
    assert anonymous_api.delete(f"groups/{gid}").status_code == 401


def test_sdk_round_trip(platform: LocalPlatform, customer_key: str) -> None:
    with platform.client(customer_key) as client:
        page = client.groups.list()
        assert {"all_services", "llm"} <= {g.name for g in page.data}
        llm = client.groups.get("llm")
        assert llm.name == "llm"
        services = client.groups.services("llm")
        assert len(services.data) == 3
        created = client.groups.create(name=f"sdk-{uuid.uuid4().hex[:6]}")
        member_id = services.data[0].id
        client.groups.add_member(created.id, service_id=member_id)
        assert [m.service_id for m in client.groups.members(created.id)] == [member_id]
        client.groups.remove_member(created.id, member_id)
        client.groups.delete(created.id)

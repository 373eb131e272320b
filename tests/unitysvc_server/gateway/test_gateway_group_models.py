"""``GET g/<group>/models``: every member's models, merged (not one routed member's)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from gateway_helpers import FakeUpstream

from unitysvc_server.demo.catalog import demo_services
from unitysvc_server.gateway.group_models import merge
from unitysvc_server.routing.selection import Candidate
from unitysvc_server.testing import LocalPlatform

SERVICES = {s.name: s for s in demo_services("http://upstream")}


def gateway(platform: LocalPlatform, key: str) -> httpx.Client:
    return httpx.Client(base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"})


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    return [entry["id"] for entry in body["data"]]


@pytest.mark.parametrize("path", ["/g/llm/v1/models", "/g/llm/models"])
def test_a_platform_group_lists_every_member(platform: LocalPlatform, key: str, path: str) -> None:
    with gateway(platform, key) as gw:
        for _ in range(3):  # a routed call would show one random member each time
            response = gw.get(path)
            assert ids(response) == ["demo-small", "demo-medium", "demo-large"]
    entry = response.json()["data"][0]
    assert entry == {"id": "demo-small", "object": "model", "owned_by": "demo"}


def test_a_collection_lists_its_members_under_the_ids_it_routes(
    platform: LocalPlatform, key: str, service_id: Any
) -> None:
    name = f"c{uuid.uuid4().hex[:8]}"
    with platform.http(key) as api:
        created = api.post("/groups", json={"name": name})
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        for member in (
            {"service_id": service_id("demo-small"), "routing_key": {"model": "fast"}},
            {"service_id": service_id("demo-large")},
        ):
            assert api.post(f"/groups/{cid}/members", json=member).status_code == 201
    with gateway(platform, key) as gw:
        response = gw.get(f"/g/{name}/models")
        assert ids(response) == ["fast", "demo-large"]
        assert response.json()["data"][0]["owned_by"] == "demo"  # the upstream's entry
        # The listed ids are what the collection routes.
        chat = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
        routed = gw.post(f"/g/{name}/chat/completions", json=chat)
        assert routed.headers["x-unitysvc-service-id"] == service_id("demo-small")


def test_members_whose_listing_fails_still_show_their_routed_model(
    platform: LocalPlatform, key: str, fake: FakeUpstream
) -> None:
    # bykey renames its members gw-cheap / gw-pricey; their upstream (an echo) lists nothing.
    with gateway(platform, key) as gw:
        entries = gw.get("/g/bykey/models").json()["data"]
        assert [e["id"] for e in entries] == ["gw-cheap", "gw-pricey"]
        assert all(e["object"] == "model" and e["owned_by"] == "gwtest" for e in entries)
        # A group of keyless members contributes what the upstreams list: nothing here.
        assert ids(gw.get("/g/spread/models")) == []
        assert gw.get("/g/nope/models").status_code == 404
    assert fake.count("/cheap/models") >= 1 and fake.count("/pricey/models") >= 1


def test_merge_keeps_member_order_and_the_first_entry_of_an_id() -> None:
    small, large = SERVICES["demo-small"], SERVICES["demo-large"]
    keyless = Candidate(service=SERVICES["echo"])
    merged = merge(
        [
            (Candidate(service=small, routing_key={"model": "demo-small"}), None),
            (keyless, [{"id": "x", "object": "model"}, {"id": "demo-small", "k": 1}]),
            (
                Candidate(
                    service=large,
                    routing_key={"model": "big"},
                    upstream_routing_key={"model": "demo-large"},
                ),
                [{"id": "demo-large", "object": "model", "owned_by": "up", "created": 1}],
            ),
        ]
    )
    assert merged == [
        {"id": "demo-small", "object": "model", "owned_by": "demo"},
        {"id": "x", "object": "model"},
        {"id": "big", "object": "model", "owned_by": "up", "created": 1},
    ]

"""End to end over real sockets: every address kind the gateway routes, and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from gateway_helpers import FakeUpstream

import unitysvc
from unitysvc_server.testing import LocalPlatform

CHAT = {"model": "demo-small", "messages": [{"role": "user", "content": "hello there"}]}


def api(platform: LocalPlatform, key: str) -> httpx.Client:
    return httpx.Client(base_url=platform.api_url, headers={"Authorization": f"Bearer {key}"})


def test_service_by_id_forwards_path_query_body_and_headers(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    response = client.dispatch(
        f"p/{service_id('fake')}/{marker}/x?q=1&r=two",
        json={"hello": marker},
        headers={"X-Custom": "yes"},
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["path"] == f"/{marker}/x"
    assert seen["query"] == "q=1&r=two"
    assert seen["body"] == f'{{"hello":"{marker}"}}' or marker in seen["body"]
    assert seen["headers"]["x-custom"] == "yes"
    # The caller's own key never reaches the upstream (the channel strips credentials).
    assert "authorization" not in seen["headers"]
    assert not any("svcpass_" in v for v in seen["headers"].values())


def test_listing_path_and_group(client: unitysvc.Client, fake: FakeUpstream, marker: str) -> None:
    by_listing = client.dispatch(f"gwtest/fake/{marker}", method="GET")
    assert by_listing.status_code == 200
    assert by_listing.json()["path"] == f"/{marker}"
    grouped = client.dispatch("g/llm/v1/chat/completions", json=CHAT)
    assert grouped.status_code == 200
    assert grouped.json()["model"] == "demo-small"
    # The OpenAI-style group interface path is the same route.
    assert "hello there" in grouped.json()["choices"][0]["message"]["content"]


def test_alias_with_routing_key_override(
    platform: LocalPlatform, key: str, client: unitysvc.Client, marker: str
) -> None:
    with api(platform, key) as http:
        created = http.post(
            "/aliases/",
            json={
                "name": "small",
                "target_path": "g/llm/v1",
                "routing_key_override": {"model": "demo-medium"},
            },
        )
        assert created.status_code == 201, created.text
    response = client.dispatch("a/small/chat/completions", json=CHAT)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "demo-medium"
    missing = client.dispatch("a/nope", json={})
    assert missing.status_code == 404
    assert missing.json()["error_source"] == "gateway"


def test_enrollment_code_routes_to_byoe_upstream(
    client: unitysvc.Client,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
    marker: str,
) -> None:
    enrollment = client.enrollments.create(
        service_id=service_id("demo-byoe"), parameters={"base_url": f"{fake.url}/byoe"}
    )
    settled = enrollment.wait(timeout=20)
    assert settled.status == "active", settled.record
    code = settled.code
    response = client.dispatch(f"e/{code}/{marker}", json={"via": "enrollment"})
    assert response.status_code == 200, response.text
    assert response.json()["path"] == f"/byoe/{marker}"
    # The same enrollment serves p/<demo-byoe id>: BYOE channel picked by the enrollment.
    direct = client.dispatch(f"p/{service_id('demo-byoe')}/{marker}", json={})
    assert direct.status_code == 200
    assert direct.json()["path"] == f"/byoe/{marker}"


def test_enrollment_code_of_another_customer_is_404(
    platform: LocalPlatform,
    client: unitysvc.Client,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
) -> None:
    settled = client.enrollments.create(
        service_id=service_id("demo-byoe"), parameters={"base_url": f"{fake.url}/byoe"}
    ).wait(timeout=20)
    other = platform.create_customer("gw-other-customer")
    with platform.client(other) as stranger:
        response = stranger.dispatch(f"e/{settled.code}/x", json={})
    assert response.status_code == 404
    assert settled.code not in {None, ""}


def test_chain_relays_and_stops(
    platform: LocalPlatform, key: str, client: unitysvc.Client, service_id: Callable[[str], str]
) -> None:
    down, echo = service_id("demo-down"), service_id("echo")
    with api(platform, key) as http:
        created = http.post(
            "/chains/",
            json={
                "name": "resilient",
                "steps": [
                    {
                        "name": "first",
                        "target_path": f"p/{down}",
                        "sort_order": 0,
                        "on_failure": "relay",
                        "on_success": "stop",
                    },
                    {
                        "name": "second",
                        "target_path": f"p/{echo}",
                        "sort_order": 1,
                        "on_failure": "stop",
                        "on_success": "stop",
                    },
                ],
            },
        )
        assert created.status_code == 201, created.text
    response = client.dispatch("c/resilient/tail", json={"step": "original"})
    assert response.status_code == 200, response.text
    assert response.headers["x-unitysvc-chain-step"] == "second"
    assert response.json()["path"] == "/tail"
    assert response.json()["body"] == {"step": "original"}
    assert client.dispatch("c/unknown", json={}).status_code == 404


def test_broadcast_sync_envelope(
    platform: LocalPlatform, key: str, client: unitysvc.Client, service_id: Callable[[str], str]
) -> None:
    with api(platform, key) as http:
        created = http.post(
            "/broadcasts/",
            json={
                "name": "everyone",
                "targets": [
                    {"name": "echo", "target_path": f"p/{service_id('echo')}"},
                    {"name": "down", "target_path": f"p/{service_id('demo-down')}"},
                ],
            },
        )
        assert created.status_code == 201, created.text
    response = client.dispatch("b/everyone", json={"fan": "out"})
    assert response.status_code == 200
    envelope = response.json()
    results = {r["name"]: r for r in envelope["results"]}
    assert results["echo"]["status_code"] == 200 and results["echo"]["ok"]
    assert results["echo"]["body"]["body"] == {"fan": "out"}
    assert results["down"]["status_code"] == 503
    assert (envelope["succeeded"], envelope["failed"]) == (1, 1)


def test_no_route_and_ambiguity_are_json(client: unitysvc.Client) -> None:
    response = client.dispatch("nothing/here", json={})
    assert response.status_code == 404
    body = response.json()
    assert "nothing/here" in body["detail"] and body["tried"]
    assert body["error_source"] == "gateway" and body["error_type"] == "no_route"
    unknown_model = client.dispatch(
        "p/groq/openai/v1/chat/completions", json={"model": "no-such-model"}
    )
    assert unknown_model.status_code == 404
    assert any("llama-3.1-8b-instant" in tried for tried in unknown_model.json()["tried"])
    # "cheap" and "pricey" both declare gwtest/shared without a routing key.
    ambiguous = client.dispatch("gwtest/shared/x", json={})
    assert ambiguous.status_code == 409
    candidates = ambiguous.json()["candidates"]
    assert len(candidates) > 1 and all("service_id" in c for c in candidates)


def test_authentication_and_wrapper_parameters(platform: LocalPlatform, key: str) -> None:
    url = f"{platform.gateway_url}/g/llm/v1/chat/completions"
    with httpx.Client() as http:
        anonymous = http.post(url, json=CHAT)
        assert anonymous.status_code == 401
        assert anonymous.json()["error_type"] == "unauthenticated"
        bad = http.post(url, json=CHAT, headers={"Authorization": "Bearer svcpass_wrong"})
        assert bad.status_code == 401
        malformed = http.post(url, json=CHAT, headers={"Authorization": "Basic abc"})
        assert malformed.status_code == 401
        auth = {"Authorization": f"Bearer {key}"}
        delayed = http.post(f"{platform.gateway_url}/d/g/llm", json={}, headers=auth)
        assert delayed.status_code == 400
        assert "_at" in delayed.json()["detail"] and "_in" in delayed.json()["detail"]
        external = http.post(
            f"{platform.gateway_url}/f/g/llm?_else=https%3A%2F%2Fevil.example",
            json={},
            headers=auth,
        )
        assert external.status_code == 400
        assert "gateway-relative" in external.json()["detail"]


def test_groq_catalog_through_upstream_map(
    client: unitysvc.Client, fake: FakeUpstream, marker: str
) -> None:
    body: dict[str, Any] = {"model": "llama-3.1-8b-instant", "messages": [], "user": marker}
    without_secret = client.dispatch("p/groq/v1/chat/completions", json=body)
    assert without_secret.status_code == 424
    assert "GROQ_API_KEY" in without_secret.json()["detail"]
    client.secrets.set("GROQ_API_KEY", "gsk_test_value")
    response = client.dispatch("p/groq/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    seen = response.json()
    # base_url https://api.groq.com/openai -> the fake, sub-path appended.
    assert seen["path"] == "/openai/v1/chat/completions"
    assert seen["headers"]["authorization"] == "Bearer gsk_test_value"
    assert marker in seen["body"]

"""Dispatching through the gateway with the SDK: services, groups, wrappers, resolve."""

from __future__ import annotations

from typing import Any

import pytest

CHAT = {"model": "demo-small", "messages": [{"role": "user", "content": "hello there"}]}


def test_group_dispatch_routes_by_model(client: Any) -> None:
    response = client.groups.dispatch("llm", path="chat/completions", json=CHAT)
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "demo-small"
    assert "hello there" in body["choices"][0]["message"]["content"]


def test_service_dispatch_and_raw_dispatch(client: Any, demo_service: Any) -> None:
    echo = demo_service("echo")
    response = echo.dispatch(path="anything", json={"x": 1}, headers={"X-Test": "yes"})
    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["body"] == {"x": 1} or seen["body"] == '{"x":1}' or seen["body"]
    header_names = {k.lower() for k in seen["headers"]}
    assert "x-test" in header_names
    assert "authorization" not in header_names
    raw = client.dispatch(f"p/{echo.id}/raw", method="GET")
    assert raw.status_code == 200
    assert raw.json()["method"] == "GET"


def test_upstream_errors_are_returned_not_raised(client: Any, demo_service: Any) -> None:
    down = demo_service("demo-down")
    response = down.dispatch(json={})
    assert response.status_code == 503


def test_streaming_yields_one_event_per_word_then_done(client: Any) -> None:
    body = {**CHAT, "stream": True}
    with client.groups.stream("llm", path="chat/completions", json=body) as stream:
        assert stream.status_code == 200
        events = list(stream.iter_events())
    kinds = [e.kind for e in events]
    assert kinds[-1] == "done"
    words = [
        e.parsed["choices"][0]["delta"].get("content", "")
        for e in events
        if e.kind == "sse" and e.parsed.get("choices")
    ]
    assert "hello" in "".join(words) and "there" in "".join(words)


def test_cached_call_is_served_from_cache(client: Any, demo_service: Any) -> None:
    echo = demo_service("echo")
    body = {"nonce": id(client)}
    first = echo.cached(ttl="5m").dispatch(path="cache", json=body)
    second = echo.cached(ttl="5m").dispatch(path="cache", json=body)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers.get("x-unitysvc-cache") == "hit"
    assert first.headers.get("x-unitysvc-cache") == "miss"


def test_failover_from_a_down_service(client: Any, demo_service: Any) -> None:
    down = demo_service("demo-down")
    echo = demo_service("echo")
    response = down.with_failover(echo).dispatch(json={"hello": "failover"})
    assert response.status_code == 200
    assert response.json()["method"] == "POST"


def test_failover_to_a_group_keeps_the_sub_path(client: Any, demo_service: Any) -> None:
    down = demo_service("demo-down")
    llm = client.groups.get("llm")
    response = down.with_failover(llm).dispatch(path="chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.json()["model"] == "demo-small"


def test_external_failover_is_refused_locally(client: Any, demo_service: Any) -> None:
    echo = demo_service("echo")
    with pytest.raises(ValueError, match="gateway-relative"):
        echo.with_failover("https://example.com/x")


def test_resolve_matches_dispatch(client: Any) -> None:
    resolved = client.resolve(path="g/llm/chat/completions", routing_key={"model": "demo-large"})
    assert resolved.candidates
    names = {c.service_name.split("/")[-1] for c in resolved.candidates if c.service_name}
    assert "demo-large" in names
    response = client.groups.dispatch(
        "llm", path="chat/completions", json={**CHAT, "model": "demo-large"}
    )
    assert response.json()["model"] == "demo-large"

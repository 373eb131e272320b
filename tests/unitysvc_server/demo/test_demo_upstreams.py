"""The demo's mock upstreams, called directly over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from unitysvc_server.demo.upstreams import DEMO_BYOK_KEY, DemoUpstreams


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    server = DemoUpstreams()
    base = await server.start()
    try:
        yield base
    finally:
        await server.stop()


CHAT = {
    "model": "demo-small",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
    ],
}


async def test_chat_replies_with_model_and_last_user_message(upstream: str) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{upstream}/demo-medium/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "demo-small"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "[demo-small] hello there",
    }
    # words: "be brief" + "first question" + "ok" + "hello there" = 7 in, 3 out
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


async def test_chat_without_model_uses_the_upstreams_own(upstream: str) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{upstream}/demo-large/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}]},
        )
        models = await client.get(f"{upstream}/demo-large/v1/models")
    assert r.json()["choices"][0]["message"]["content"] == "[demo-large] x"
    assert models.json()["data"][0]["id"] == "demo-large"


async def test_stream_sends_one_chunk_per_word_then_done(upstream: str) -> None:
    events: list[str] = []
    async with (
        httpx.AsyncClient() as client,
        client.stream(
            "POST",
            f"{upstream}/demo-small/v1/chat/completions",
            json={**CHAT, "stream": True},
        ) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                events.append(line[len("data: ") :])
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    words = [c["choices"][0]["delta"].get("content") for c in chunks[:-1]]
    assert words == ["[demo-small]", " hello", " there"]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)  # not asked for


async def test_stream_sends_usage_only_when_asked(upstream: str) -> None:
    async with (
        httpx.AsyncClient() as client,
        client.stream(
            "POST",
            f"{upstream}/demo-small/v1/chat/completions",
            json={**CHAT, "stream": True, "stream_options": {"include_usage": True}},
        ) as r,
    ):
        events = [line[6:] async for line in r.aiter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])
    assert last["choices"] == []
    assert last["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert json.loads(events[-3])["choices"][0]["finish_reason"] == "stop"


async def test_pause_ms_holds_the_stream_after_the_first_chunk(upstream: str) -> None:
    async with (
        httpx.AsyncClient() as client,
        client.stream(
            "POST",
            f"{upstream}/demo-small/v1/chat/completions",
            json={**CHAT, "stream": True, "pause_ms": 300},
        ) as r,
    ):
        lines = r.aiter_lines()
        first = await anext(lines)
        started = time.monotonic()
        assert first.startswith("data: ")
        rest = [line async for line in lines if line.startswith("data: ")]
        waited = time.monotonic() - started
    assert waited >= 0.25
    assert rest[-1] == "data: [DONE]"


async def test_byok_upstream_needs_the_documented_key(upstream: str) -> None:
    url = f"{upstream}/demo-byok/v1/chat/completions"
    async with httpx.AsyncClient() as client:
        missing = await client.post(url, json=CHAT)
        wrong = await client.post(url, json=CHAT, headers={"Authorization": "Bearer nope"})
        right = await client.post(
            url, json=CHAT, headers={"Authorization": f"Bearer {DEMO_BYOK_KEY}"}
        )
    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    assert right.status_code == 200


async def test_down_is_always_503_and_echo_reflects_without_credentials(upstream: str) -> None:
    async with httpx.AsyncClient() as client:
        down = await client.get(f"{upstream}/demo-down/anything")
        echo = await client.put(
            f"{upstream}/echo/a/b?x=1&y=2",
            content=b"plain text",
            headers={"Authorization": "Bearer secret", "X-Api-Key": "k", "X-Custom": "v"},
        )
        echo_json = await client.post(f"{upstream}/echo", json={"k": [1, 2]})
    assert down.status_code == 503
    body = echo.json()
    assert body["method"] == "PUT" and body["path"] == "/a/b" and body["query"] == "x=1&y=2"
    assert body["body"] == "plain text"
    headers = {k.lower(): v for k, v in body["headers"].items()}
    assert headers["x-custom"] == "v"
    assert "authorization" not in headers and "x-api-key" not in headers
    assert echo_json.json()["body"] == {"k": [1, 2]} and echo_json.json()["path"] == "/"


async def test_bad_chat_bodies_are_400(upstream: str) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{upstream}/demo-small/v1/chat/completions", content=b"nope")
        r2 = await client.post(f"{upstream}/demo-small/v1/chat/completions", json={"x": 1})
    assert r.status_code == 400 and r2.status_code == 400

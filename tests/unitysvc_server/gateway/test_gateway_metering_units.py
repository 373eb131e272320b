"""Pure units of usage metering: token parsing, asking for usage, the metered body."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from unitysvc_server.catalog.model import CatalogService
from unitysvc_server.demo.catalog import demo_services
from unitysvc_server.domain.usage import UsageEvent
from unitysvc_server.gateway.metering import (
    MAX_JSON_BYTES,
    SERVICE_HEADER,
    Metering,
    ask_for_usage,
    token_counts,
)
from unitysvc_server.gateway.pipeline import (
    Caller,
    GatewayRequest,
    GatewayResponse,
    StreamBody,
)
from unitysvc_server.routing.paths import parse_gateway_path

SMALL = next(s for s in demo_services("http://upstream") if s.name == "demo-small")
SSE = [(b"content-type", b"text/event-stream")]
JSON = [(b"content-type", b"application/json")]


def request(body: Any, method: str = "POST") -> GatewayRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return GatewayRequest(
        method,
        parse_gateway_path("demo-small/v1/chat/completions"),
        "demo-small/v1/chat/completions",
        [],
        raw,
        Caller(uuid.UUID(int=1)),
    )


def test_token_counts_of_the_usage_shapes() -> None:
    openai = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 30},
    }
    # Cached prompt tokens are counted once, at the cached rate.
    assert token_counts(openai) == {
        "input_tokens": 70,
        "cached_input_tokens": 30,
        "output_tokens": 20,
        "total_tokens": 120,
    }
    responses_api = {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
        "input_tokens_details": {"cached_tokens": 4},
    }
    assert token_counts(responses_api)["input_tokens"] == 6
    anthropic = {"input_tokens": 25, "output_tokens": 3, "cache_read_input_tokens": 8}
    assert token_counts(anthropic) == {
        "input_tokens": 25,
        "cached_input_tokens": 8,
        "output_tokens": 3,
    }
    assert token_counts({"prompt_tokens": -1, "completion_tokens": True, "total_tokens": "9"}) == {}


@pytest.mark.parametrize(
    ("body", "url", "asked"),
    [
        ({"stream": True, "messages": []}, "http://u/v1/chat/completions", True),
        ({"stream": True, "stream_options": {"x": 1}}, "http://u/v1/completions", True),
        (
            {"stream": True, "stream_options": {"include_usage": True}},
            "http://u/v1/completions",
            False,
        ),
        ({"stream": False}, "http://u/v1/chat/completions", False),
        ({"stream": True}, "http://u/v1/embeddings", False),
        ({"stream": True, "stream_options": "odd"}, "http://u/v1/completions", False),
        ([{"stream": True}], "http://u/v1/completions", False),
    ],
)
def test_ask_for_usage_only_on_streamed_completions(body: Any, url: str, asked: bool) -> None:
    sent, added = ask_for_usage(request(body), url)
    assert added is asked
    if asked:
        data = json.loads(sent)
        assert data["stream_options"]["include_usage"] is True
        assert {k: v for k, v in data.items() if k != "stream_options"} == {
            k: v for k, v in body.items() if k != "stream_options"
        }
        assert data["stream_options"].get("x") == body.get("stream_options", {}).get("x")
    else:
        assert sent == request(body).body


async def chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def run(
    parts: list[bytes],
    headers: list[tuple[bytes, bytes]],
    *,
    status: int = 200,
    requested: bool = False,
    read_all: bool = True,
    service: CatalogService = SMALL,
) -> tuple[bytes, list[UsageEvent], GatewayResponse]:
    events: list[UsageEvent] = []
    metering = Metering(events.append)
    req = request({"model": "demo-small"})
    req.trace.channel = "managed"
    response = GatewayResponse(status, list(headers), StreamBody(chunks(parts)))
    metered = metering.wrap(
        req, response, service, bytes_in=11, usage_requested=requested, started=0.0
    )
    out = b""
    async for piece in metered.body:
        out += piece
        if not read_all:
            break
    await metered.body.aclose()
    assert req.trace.usage_event_id == (events[0].id if events else None)
    return out, events, metered


def event(data: dict[str, Any], sep: bytes = b"\n\n") -> bytes:
    return b"data: " + json.dumps(data).encode() + sep


USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
DELTA = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}


async def test_the_usage_event_the_gateway_asked_for_is_removed_across_chunk_edges() -> None:
    usage_event = event({"choices": [], "usage": USAGE}, b"\r\n\r\n")
    stream = event(DELTA) + usage_event + b"data: [DONE]\n\n"
    parts = [stream[i : i + 7] for i in range(0, len(stream), 7)]  # events split anywhere
    out, [metered], response = await run(parts, SSE, requested=True)
    assert out == event(DELTA) + b"data: [DONE]\n\n"
    assert metered.usage.input_tokens == 7 and metered.usage.output_tokens == 3
    assert metered.usage.bytes_out == len(stream) and metered.usage.bytes_in == 11
    assert metered.success
    # demo-small: 0.10 / 0.20 USD per 1M input / output tokens.
    assert metered.charge == (Decimal("0.10") * 7 + Decimal("0.20") * 3) / 1_000_000
    assert (SERVICE_HEADER, str(SMALL.id).encode()) in response.headers


async def test_a_stream_that_asked_itself_passes_unchanged() -> None:
    stream = event(DELTA) + event({"choices": [], "usage": USAGE}) + b"data: [DONE]\n\n"
    out, [metered], _ = await run([stream[:30], stream[30:]], SSE, requested=False)
    assert out == stream
    assert metered.usage.total_tokens == 10


async def test_anthropic_stream_usage_adds_up() -> None:
    stream = event(
        {"type": "message_start", "message": {"usage": {"input_tokens": 25, "output_tokens": 1}}}
    ) + event({"type": "message_delta", "usage": {"output_tokens": 15}})
    _, [metered], _ = await run([stream], SSE)
    assert (metered.usage.input_tokens, metered.usage.output_tokens) == (25, 15)


async def test_json_body_usage_and_the_size_limit() -> None:
    body = json.dumps({"id": "x", "usage": USAGE}).encode()
    _, [metered], _ = await run([body[:5], body[5:]], JSON)
    assert metered.usage.output_tokens == 3
    big = b'{"pad": "' + b"x" * MAX_JSON_BYTES + b'", "usage": {"prompt_tokens": 1}}'
    _, [unread], _ = await run([big], JSON)
    assert unread.usage.input_tokens is None and unread.usage.bytes_out == len(big)


async def test_errors_and_interrupted_bodies_are_failures_charged_nothing() -> None:
    body = json.dumps({"usage": USAGE}).encode()
    _, [failed], _ = await run([body], JSON, status=500)
    assert not failed.success and failed.charge == 0 and failed.status_code == 500
    assert failed.usage.input_tokens == 7  # recorded, not billed
    _, [cut], _ = await run([b"data: {}\n\n", b"data: {}\n\n"], SSE, read_all=False)
    assert not cut.success and cut.charge == 0


async def test_upstream_service_header_is_replaced_not_trusted() -> None:
    spoofed = [*JSON, (SERVICE_HEADER, b"not-this")]
    _, _, response = await run([b"{}"], spoofed)
    assert [v for k, v in response.headers if k == SERVICE_HEADER] == [str(SMALL.id).encode()]

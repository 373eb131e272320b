"""Pure units: pipeline folding and the wrapper stages against in-memory handlers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest

from unitysvc_server.gateway.cache import MemoryCache
from unitysvc_server.gateway.pipeline import (
    BytesBody,
    Caller,
    GatewayRequest,
    GatewayResponse,
    Handler,
    Pipeline,
    StageSpec,
    StreamBody,
)
from unitysvc_server.gateway.stages.failover import failover_stage
from unitysvc_server.gateway.stages.memoize import memoize_stage
from unitysvc_server.gateway.stages.tee import tee_stage
from unitysvc_server.routing.paths import parse_gateway_path

CUSTOMER = Caller(uuid.UUID(int=1))


def request(path: str, body: bytes = b"{}", caller: Caller = CUSTOMER) -> GatewayRequest:
    raw, _, query = path.partition("?")
    return GatewayRequest("POST", parse_gateway_path(raw, query.encode()), path, [], body, caller)


async def read(response: GatewayResponse) -> bytes:
    try:
        return b"".join([chunk async for chunk in response.body])
    finally:
        await response.body.aclose()


def recording_stage(inner: Handler, *, name: str, calls: list[str]) -> Handler:
    async def handle(req: GatewayRequest) -> GatewayResponse:
        calls.append(f"{name}>")
        response = await inner(req)
        calls.append(f"<{name}")
        return response

    return handle


async def test_pipeline_folds_outermost_first_and_freezes() -> None:
    calls: list[str] = []

    async def core(req: GatewayRequest) -> GatewayResponse:
        calls.append("core")
        return GatewayResponse(200, [], BytesBody(b"ok"))

    pipeline = Pipeline(core, [StageSpec(recording_stage, name="a", calls=calls)])
    pipeline.add(StageSpec(recording_stage, name="b", calls=calls))
    response = await pipeline(request("g/x"))
    assert await read(response) == b"ok"
    assert calls == ["a>", "b>", "core", "<b", "<a"]
    with pytest.raises(RuntimeError, match="frozen"):
        pipeline.add(StageSpec(recording_stage, name="c", calls=calls))


class Upstream:
    """A counting fake inner handler that streams its answer in pieces."""

    def __init__(self, status: int = 200, chunks: tuple[bytes, ...] = (b"he", b"llo")) -> None:
        self.status = status
        self.chunks = chunks
        self.hits = 0

    async def __call__(self, req: GatewayRequest) -> GatewayResponse:
        self.hits += 1

        async def gen() -> AsyncIterator[bytes]:
            for chunk in self.chunks:
                yield chunk

        return GatewayResponse(self.status, [(b"content-type", b"text/plain")], StreamBody(gen()))


class Spawner:
    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def __call__(self, coro: Coroutine[Any, Any, None]) -> object:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        return task

    async def drain(self) -> None:
        await asyncio.gather(*self.tasks)


async def test_memoize_hit_replays_bytes_and_skips_upstream() -> None:
    upstream, spawn, cache = Upstream(), Spawner(), MemoryCache()
    handler = memoize_stage(upstream, cache=cache, spawn=spawn)
    first = await handler(request("m/g/x"))
    assert dict(first.headers)[b"x-unitysvc-cache"] == b"miss"
    assert await read(first) == b"hello"
    await spawn.drain()
    second = await handler(request("m/g/x?_ttl=5m"))
    assert dict(second.headers)[b"x-unitysvc-cache"] == b"hit"
    assert dict(second.headers)[b"content-type"] == b"text/plain"
    assert await read(second) == b"hello"
    assert upstream.hits == 1


async def test_memoize_scoped_by_customer_body_and_renew() -> None:
    upstream, spawn = Upstream(), Spawner()
    handler = memoize_stage(upstream, cache=MemoryCache(), spawn=spawn)
    await read(await handler(request("m/g/x")))
    await spawn.drain()
    await read(await handler(request("m/g/x", caller=Caller(uuid.UUID(int=2)))))
    await read(await handler(request("m/g/x", body=b'{"a":1}')))
    await read(await handler(request("m/g/x?_renew")))
    await spawn.drain()
    assert upstream.hits == 4
    await read(await handler(request("m/g/x")))
    assert upstream.hits == 4


async def test_memoize_does_not_store_errors_or_aborted_streams() -> None:
    failing, spawn = Upstream(status=503), Spawner()
    handler = memoize_stage(failing, cache=MemoryCache(), spawn=spawn)
    await read(await handler(request("m/g/x")))
    await spawn.drain()
    await read(await handler(request("m/g/x")))
    assert failing.hits == 2

    ok, cache = Upstream(), MemoryCache()
    handler = memoize_stage(ok, cache=cache, spawn=spawn)
    response = await handler(request("m/g/x"))
    await response.body.aclose()  # the caller went away before the end
    await spawn.drain()
    assert len(cache) == 0


async def test_memoize_ttl_expires_with_injected_clock() -> None:
    now = [1000.0]
    cache = MemoryCache(clock=lambda: now[0])
    upstream, spawn = Upstream(), Spawner()
    handler = memoize_stage(upstream, cache=cache, spawn=spawn)
    await read(await handler(request("m/g/x?_ttl=60s")))
    await spawn.drain()
    now[0] += 59
    await read(await handler(request("m/g/x?_ttl=60s")))
    assert upstream.hits == 1
    now[0] += 2
    await read(await handler(request("m/g/x?_ttl=60s")))
    assert upstream.hits == 2


async def test_failover_on_5xx_and_429_only() -> None:
    seen: list[str] = []

    async def secondary(parent: GatewayRequest, path: str) -> GatewayResponse:
        seen.append(path)
        return GatewayResponse(200, [], BytesBody(b"second"))

    for status, expect_failover in ((503, True), (429, True), (404, False), (200, False)):
        seen.clear()
        handler = failover_stage(Upstream(status=status), dispatch_secondary=secondary)
        response = await handler(request("f/g/x?_else=g%2Fy"))
        body = await read(response)
        assert (seen == ["g/y"]) is expect_failover
        assert (body == b"second") is expect_failover
        assert (b"x-unitysvc-failover" in dict(response.headers)) is expect_failover


async def test_failover_tries_secondaries_in_order() -> None:
    answers = {"g/y": 502, "g/z": 200}

    async def secondary(parent: GatewayRequest, path: str) -> GatewayResponse:
        return GatewayResponse(answers[path], [], BytesBody(path.encode()))

    handler = failover_stage(Upstream(status=500), dispatch_secondary=secondary)
    response = await handler(request("f/f/g/x?_else=g%2Fy&_else=g%2Fz"))
    assert await read(response) == b"g/z"
    assert dict(response.headers)[b"x-unitysvc-failover"] == b"2"


async def test_tee_does_not_delay_primary() -> None:
    release = asyncio.Event()
    copies: list[str] = []

    async def secondary(parent: GatewayRequest, path: str) -> GatewayResponse:
        await release.wait()
        copies.append(path)
        return GatewayResponse(200, [], BytesBody(b"copy"))

    spawn = Spawner()
    handler = tee_stage(Upstream(), dispatch_secondary=secondary, spawn=spawn)
    response = await asyncio.wait_for(handler(request("t/g/x?_to=g%2Fy")), 1)
    assert await read(response) == b"hello"
    assert copies == []
    release.set()
    await spawn.drain()
    assert copies == ["g/y"]

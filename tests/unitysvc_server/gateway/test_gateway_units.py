"""Pure units: token bucket, SSRF guard, cache serialization, upstream helpers."""

from __future__ import annotations

import asyncio

import pytest

from unitysvc_server.gateway.cache import CachedResponse, MemoryCache
from unitysvc_server.gateway.contextcache import TTLCache
from unitysvc_server.gateway.ratelimit import TokenBucketLimiter, retry_after_header
from unitysvc_server.gateway.upstream import (
    apply_upstream_map,
    forward_request_headers,
    forward_response_headers,
    join_url,
    redact_headers,
)


def test_token_bucket_burst_then_refill() -> None:
    now = [0.0]
    limiter = TokenBucketLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == pytest.approx(0.5)
    assert retry_after_header(wait) == b"1"
    assert limiter.acquire("b") == 0.0  # buckets are per customer
    now[0] += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    now[0] += 10
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_token_bucket_disabled_and_sweeps() -> None:
    assert TokenBucketLimiter(rate=0, burst=1).acquire("x") == 0.0
    now = [0.0]
    limiter = TokenBucketLimiter(rate=10, burst=10, clock=lambda: now[0])
    for i in range(100):
        limiter.acquire(i)
    now[0] += 5
    limiter.acquire("fresh")
    assert len(limiter._buckets) == 1


async def test_memory_cache_lru_bound() -> None:
    cache = MemoryCache(max_bytes=300)
    for i in range(5):
        await cache.set(str(i), CachedResponse(200, [], b"x" * 100), 60)
    assert len(cache) == 1
    assert await cache.get("4") is not None
    assert await cache.get("0") is None


def test_cached_response_round_trip() -> None:
    entry = CachedResponse(201, [(b"content-type", b"text/event-stream")], b"data: 1\n\n\x00\xff")
    assert CachedResponse.decode(entry.encode()) == entry


def test_forward_request_headers_drops_credentials_and_hop_by_hop() -> None:
    inbound = [
        (b"authorization", b"Bearer svcpass_secret"),
        (b"x-other-key", b"svcpass_secret"),
        (b"connection", b"keep-alive, x-drop-me"),
        (b"x-drop-me", b"1"),
        (b"host", b"gw"),
        (b"content-length", b"3"),
        (b"x-unitysvc-log-request", b"1"),
        (b"content-type", b"application/json"),
        (b"x-trace", b"abc"),
    ]
    out = forward_request_headers(inbound, [(b"authorization", b"Bearer up-key")])
    assert out == [
        (b"content-type", b"application/json"),
        (b"x-trace", b"abc"),
        (b"authorization", b"Bearer up-key"),
    ]
    assert redact_headers(out)["authorization"] == "***redacted***"


def test_forward_response_headers() -> None:
    out = forward_response_headers(
        [(b"Content-Type", b"text/plain"), (b"Transfer-Encoding", b"chunked"), (b"Date", b"x")]
    )
    assert out == [(b"content-type", b"text/plain")]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.groq.com/openai/v1", "http://127.0.0.1:9001/openai/v1"),
        ("https://api.groq.com", "http://127.0.0.1:9001"),
        ("https://api.groq.com.evil/x", "https://api.groq.com.evil/x"),
        ("https://other.com/x", "https://other.com/x"),
    ],
)
def test_upstream_map(url: str, expected: str) -> None:
    assert apply_upstream_map(url, {"https://api.groq.com": "http://127.0.0.1:9001/"}) == expected


def test_join_url() -> None:
    assert join_url("http://u/v1", "chat/completions", "a=1") == "http://u/v1/chat/completions?a=1"
    assert join_url("http://u/v1/", "", "") == "http://u/v1/"
    assert join_url("http://u/v1?k=s", "x", "a=1") == "http://u/v1/x?k=s&a=1"


async def test_context_cache_single_flight_stale_refresh_and_invalidation() -> None:
    now = [0.0]
    cache: TTLCache[str, int] = TTLCache(ttl=5, clock=lambda: now[0])
    calls: list[int] = []
    gate = asyncio.Event()

    async def load() -> tuple[int, str]:
        calls.append(1)
        await gate.wait()
        return len(calls), "cust"

    first = asyncio.gather(*(cache.get_or_load("k", load) for _ in range(10)))
    await asyncio.sleep(0)
    gate.set()
    assert await first == [1] * 10
    assert len(calls) == 1  # ten concurrent misses, one load
    now[0] += 6  # expired: the stale value is served while one refresh runs
    assert await cache.get_or_load("k", load) == 1
    await asyncio.sleep(0)
    assert await cache.get_or_load("k", load) == 2
    assert len(calls) == 2
    cache.invalidate_customer("cust")
    assert await cache.get_or_load("k", load) == 3


async def test_context_cache_does_not_cache_nothing() -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=5)
    loads: list[int] = []

    async def unknown() -> None:
        loads.append(1)
        return None

    assert await cache.get_or_load("k", unknown) is None
    assert await cache.get_or_load("k", unknown) is None
    assert len(loads) == 2

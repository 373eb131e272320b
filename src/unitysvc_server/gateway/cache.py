"""Response stores for the ``m/`` (memoize) wrapper: an in-process LRU, or Redis.

An entry is a whole upstream response — status, end-to-end headers and body bytes — kept
for its TTL and replayed byte for byte. Keys are opaque strings built by the memoize stage
(already scoped by customer). Both stores implement :class:`ResponseCache`.
"""

from __future__ import annotations

import json
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from unitysvc_server.gateway.pipeline import Headers

_LEN = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A stored response.

    Attributes:
        status: HTTP status (always 2xx).
        headers: End-to-end response headers.
        body: The exact body bytes.
    """

    status: int
    headers: Headers
    body: bytes

    def encode(self) -> bytes:
        """Serialize: a length-prefixed JSON head, then the raw body."""
        head = json.dumps(
            {
                "s": self.status,
                "h": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
            }
        ).encode()
        return _LEN.pack(len(head)) + head + self.body

    @classmethod
    def decode(cls, data: bytes) -> CachedResponse:
        """Inverse of :meth:`encode`."""
        (size,) = _LEN.unpack_from(data)
        head = json.loads(data[_LEN.size : _LEN.size + size])
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in head["h"]]
        return cls(int(head["s"]), headers, data[_LEN.size + size :])

    @property
    def size(self) -> int:
        """Approximate memory footprint in bytes."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 64


class ResponseCache(Protocol):
    """Where memoized responses live."""

    async def get(self, key: str) -> CachedResponse | None:
        """The live entry under ``key``, or ``None``."""
        ...

    async def set(self, key: str, entry: CachedResponse, ttl_seconds: int) -> None:
        """Store ``entry`` under ``key`` for ``ttl_seconds``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryCache:
    """In-process LRU bounded by total bytes, with per-entry expiry.

    Args:
        max_bytes: Evict least recently used entries beyond this total size.
        clock: Monotonic seconds (injected in tests).
    """

    def __init__(
        self, max_bytes: int = 64 * 1024 * 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, CachedResponse]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedResponse | None:
        item = self._entries.get(key)
        if item is None:
            return None
        expires, entry = item
        if expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    async def set(self, key: str, entry: CachedResponse, ttl_seconds: int) -> None:
        if entry.size > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (self._clock() + ttl_seconds, entry)
        self._bytes += entry.size
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: str) -> None:
        _, entry = self._entries.pop(key)
        self._bytes -= entry.size

    async def close(self) -> None:
        self._entries.clear()
        self._bytes = 0


class RedisCache:
    """Entries in Redis under ``<prefix><key>`` with Redis-side expiry.

    Shared by every server process pointed at the same Redis, so a response memoized by
    one is a hit on all.

    Args:
        url: ``redis://host:port/db``.
        prefix: Namespace for the keys.
    """

    def __init__(self, url: str, prefix: str = "unitysvc:memo:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._prefix = prefix

    async def get(self, key: str) -> CachedResponse | None:
        data = await self._redis.get(self._prefix + key)
        if data is None:
            return None
        return CachedResponse.decode(data.encode("latin-1") if isinstance(data, str) else data)

    async def set(self, key: str, entry: CachedResponse, ttl_seconds: int) -> None:
        await self._redis.set(self._prefix + key, entry.encode(), ex=ttl_seconds)

    async def close(self) -> None:
        await self._redis.aclose()


def make_cache(redis_url: str | None) -> ResponseCache:
    """Redis when a URL is configured, else the in-process LRU."""
    return RedisCache(redis_url) if redis_url else MemoryCache()

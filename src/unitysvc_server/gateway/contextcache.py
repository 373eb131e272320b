"""Short-lived, invalidated caches of per-customer facts the gateway reads on every call.

Authenticating a key and reading the customer's logging preference would otherwise cost
a database round trip per dispatch. Loads are single-flight, and (where allowed) an
expired entry is served once more while one background load refreshes it, so a busy
customer's calls never queue up behind a burst of identical database reads when the TTL
runs out. Entries are dropped the moment the data they mirror changes, in this process
or any other sharing the database: each cache subscribes to the runtime's
:class:`~unitysvc_server.invalidation.InvalidationBus` with :meth:`TTLCache.apply`. The
TTL only bounds how long an entry lives if an invalidation were ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar, cast

from unitysvc_server.invalidation import Invalidation

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: An expired entry older than this many TTLs is not served while refreshing.
_STALE_TTLS = 10

logger = logging.getLogger("unitysvc_server.gateway")

#: Loads a value: ``(value, customer_id)`` to cache, or ``None`` for "nothing" (not cached).
Loader = Callable[[], Awaitable["tuple[V, Any] | None"]]


class TTLCache(Generic[K, V]):
    """A dictionary whose entries expire after ``ttl`` seconds.

    Args:
        ttl: Seconds an entry stays valid.
        max_entries: Beyond this the cache is emptied (crude but bounded).
        clock: Monotonic seconds.
        serve_stale: Serve an expired entry while it is refreshed. Off for what must
            never outlive its truth (an API key: a revoked key gets no extra call).
    """

    def __init__(
        self,
        ttl: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        serve_stale: bool = True,
    ) -> None:
        self.ttl = ttl
        self._serve_stale = serve_stale
        self._max = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._keys_by_customer: dict[Any, set[K]] = {}
        self._loading: dict[K, asyncio.Task[V | None]] = {}
        self._generation = 0

    def put(self, key: K, value: V, customer_id: Any) -> None:
        """Store ``value``; ``customer_id`` names whose change invalidates it."""
        if len(self._entries) >= self._max:
            self.clear()
        self._entries[key] = (self._clock() + self.ttl, value)
        self._keys_by_customer.setdefault(customer_id, set()).add(key)

    async def get_or_load(self, key: K, load: Loader[V]) -> V | None:
        """The cached value, else the loaded one (one load per key at a time).

        An expired entry is returned as is while a single background load refreshes it.
        """
        item = self._entries.get(key)
        now = self._clock()
        if item is not None:
            expires, value = item
            if expires > now:
                return value
            if self._serve_stale and expires + self.ttl * _STALE_TTLS > now:
                if key not in self._loading:
                    self._loading[key] = asyncio.ensure_future(self._load(key, load, value))
                return value
        pending = self._loading.get(key)
        if pending is None:
            pending = self._loading[key] = asyncio.ensure_future(self._load(key, load, None))
        return await asyncio.shield(pending)

    async def _load(self, key: K, load: Loader[V], fallback: V | None) -> V | None:
        generation = self._generation
        try:
            result = await load()
        except Exception:
            if fallback is None:
                raise
            logger.warning("refreshing a cached customer context failed", exc_info=True)
            return fallback
        finally:
            self._loading.pop(key, None)
        if result is None:
            self._entries.pop(key, None)
            return None
        value, customer_id = result
        # An invalidation while loading means the value read may predate the change.
        if generation == self._generation:
            self.put(key, value, customer_id)
        return value

    def invalidate_customer(self, customer_id: Any) -> None:
        """Drop every entry stored for ``customer_id``."""
        self._generation += 1
        for key in self._keys_by_customer.pop(customer_id, ()):
            self._entries.pop(key, None)

    def discard(self, key: K) -> None:
        """Drop the entry under ``key``."""
        self._generation += 1
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop everything."""
        self._generation += 1
        self._entries.clear()
        self._keys_by_customer.clear()

    def apply(self, invalidation: Invalidation) -> None:
        """Act on a bus invalidation (customer ids may arrive as text or UUIDs)."""
        if invalidation.kind == "all":
            self.clear()
        elif invalidation.kind == "key":
            # Key entries are stored under the key's hash, the value a key invalidation names.
            self.discard(cast(K, invalidation.value))
        else:
            customer: Any = invalidation.value
            with contextlib.suppress(ValueError):
                customer = uuid.UUID(invalidation.value)
            self.invalidate_customer(customer)

"""The control plane's authenticated keys, kept per process and dropped through the bus.

Every ``/v1`` call authenticates its key; without a cache that is a database query
(four round trips through SQLite's driver thread) per call. :class:`KeyCache` maps a
key's hash to its :class:`~unitysvc_server.domain.customers.Customer` for a few
seconds, and drops entries the moment the invalidation bus says so: a revoked key or
a deleted customer's keys (``key`` invalidations name each hash: revoking by customer
and deleting one name them all), or everything. A customer's other changes (a secret
set: ``customer`` invalidations) leave their keys cached. The caller
checks the bus for other processes' news (:meth:`InvalidationBus.check`) before
reading it, as the gateway does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from unitysvc_server.domain.customers import Customer
from unitysvc_server.invalidation import Invalidation

__all__ = ["KeyCache"]

#: How long an entry lives if an invalidation were ever lost (as the gateway's cache).
TTL_SECONDS = 5.0


class KeyCache:
    """Authenticated keys by hash (see the module docs).

    Args:
        ttl: Seconds an entry is served.
        max_entries: Beyond this the cache is emptied (bounded memory, simply).
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        ttl: float = TTL_SECONDS,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, Customer]] = {}
        #: Bumped by every invalidation: a value read before one is not stored after it.
        self.generation = 0

    def get(self, key_hash: str) -> Customer | None:
        """The customer of the live key ``key_hash``, if cached and fresh."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key_hash]
            return None
        return entry[1]

    def put(self, key_hash: str, customer: Customer, generation: int) -> None:
        """Keep ``customer`` for ``key_hash`` unless an invalidation came after
        ``generation`` (the value of :attr:`generation` before the lookup)."""
        if generation != self.generation:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key_hash] = (self._clock() + self._ttl, customer)

    def apply(self, invalidation: Invalidation) -> None:
        """Drop what ``invalidation`` names (an invalidation-bus listener)."""
        if invalidation.kind == "customer":
            return  # keys are invalidated by name
        self.generation += 1
        if invalidation.kind == "key":
            self._entries.pop(invalidation.value, None)
        else:
            self._entries.clear()

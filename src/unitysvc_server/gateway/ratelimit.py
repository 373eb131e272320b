"""Per-customer request rate limit: a token bucket per customer, in process.

Each customer's bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per
second; a request takes one token or is refused with the number of seconds until one is
available (the ``Retry-After`` of the 429). The clock is injected so tests never sleep.
Buckets idle long enough to be full again are dropped, so memory stays bounded by the
number of customers active in the last ``burst / rate`` seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Token buckets keyed by customer.

    Args:
        rate: Tokens added per second (sustained requests per second). ``<= 0`` disables
            the limit.
        burst: Bucket capacity (requests allowed at once after idling); at least 1.
        clock: Monotonic seconds; ``time.monotonic`` by default.
    """

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        self._last_sweep = clock()

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.rate > 0

    def acquire(self, key: Hashable) -> float:
        """Take a token for ``key``.

        Returns:
            ``0.0`` when the request may proceed, else the seconds to wait before retrying.
        """
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            self._maybe_sweep(now)
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _maybe_sweep(self, now: float) -> None:
        refill_time = self.burst / self.rate
        if now - self._last_sweep < max(refill_time, 1.0):
            return
        self._last_sweep = now
        stale = [k for k, b in self._buckets.items() if now - b.updated >= refill_time]
        for key in stale:
            del self._buckets[key]


def retry_after_header(wait_seconds: float) -> bytes:
    """``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_seconds))).encode()

"""Per-customer request rate limit: a token bucket per customer.

Each customer's bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per
second; a request takes one token or is refused with the number of seconds until one is
available (the ``Retry-After`` of the 429).

:class:`TokenBucketLimiter` keeps the buckets in process: the clock is injected so tests
never sleep, and buckets idle long enough to be full again are dropped, so memory stays
bounded by the number of customers active in the last ``burst / rate`` seconds.

:class:`RedisTokenBucketLimiter` keeps them in Redis, so every server process pointed at
the same Redis shares one bucket per customer (``--redis-url``). See its docstring for
atomicity, clocks, expiry and what happens when Redis is unreachable.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("unitysvc_server.gateway")


class RateLimiter(Protocol):
    """What the gateway asks of a rate limit (both limiters below implement it)."""

    rate: float
    burst: float

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        ...

    async def take(self, key: Hashable) -> float:
        """Take a token for ``key``: ``0.0`` to proceed, else seconds to wait."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


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

    async def take(self, key: Hashable) -> float:
        """:meth:`acquire`, as the :class:`RateLimiter` coroutine."""
        return self.acquire(key)

    async def close(self) -> None:
        """Forget every bucket."""
        self._buckets.clear()

    def _maybe_sweep(self, now: float) -> None:
        refill_time = self.burst / self.rate
        if now - self._last_sweep < max(refill_time, 1.0):
            return
        self._last_sweep = now
        stale = [k for k, b in self._buckets.items() if now - b.updated >= refill_time]
        for key in stale:
            del self._buckets[key]


#: The bucket, atomically in Redis. KEYS[1]: the customer's hash (``t`` tokens, ``u`` last
#: update in Redis seconds). ARGV: rate, burst, expiry in ms. Returns the wait in seconds
#: as a string (a Lua number would be truncated to an integer on the way back).
_BUCKET_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
elseif now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens),
  'u', string.format('%.17g', math.max(now, updated or now)))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return string.format('%.17g', wait)
"""


class RedisTokenBucketLimiter:
    """Token buckets in Redis, shared by every server process using the same Redis.

    Atomic across processes: the refill-and-take runs as one Lua script (loaded once with
    ``register_script``, then called by its SHA). Time comes from Redis ``TIME``, so
    servers with skewed clocks agree. A bucket's key expires after the time an empty
    bucket takes to fill — by then it would be full, exactly like a missing key — so idle
    customers cost Redis nothing.

    When Redis does not answer (down, timeout, refused), the request is limited by the
    in-process ``fallback`` bucket instead — never an error to the caller — a warning is
    logged once per outage, and Redis is not asked again for ``recheck_after`` seconds, so
    an outage does not add a connect timeout to every request.

    Args:
        url: ``redis://host:port/db``.
        rate: Tokens added per second; must be positive (use
            :class:`TokenBucketLimiter` with ``rate=0`` for no limit).
        burst: Bucket capacity; at least 1.
        prefix: Namespace of the bucket keys (``<prefix><customer id>``).
        timeout: Socket connect/read timeout towards Redis, in seconds.
        recheck_after: Seconds to use only the fallback after Redis failed.
        clock: Monotonic seconds, for the fallback bucket and ``recheck_after``.
    """

    def __init__(
        self,
        url: str,
        rate: float,
        burst: float,
        *,
        prefix: str = "unitysvc:rl:",
        timeout: float = 0.5,
        recheck_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError

        if rate <= 0:
            raise ValueError("RedisTokenBucketLimiter needs a positive rate")
        self.rate = rate
        self.burst = max(1.0, burst)
        self.prefix = prefix
        self.fallback = TokenBucketLimiter(rate, self.burst, clock)
        # No retries: a request must not wait through redis-py's backoff; the fallback
        # answers instead.
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._redis.register_script(_BUCKET_LUA)
        self._args = (repr(float(rate)), repr(self.burst), str(self.expiry_ms))
        self._recheck_after = recheck_after
        self._errors: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
        self._clock = clock
        self._skip_until: float | None = None
        self._down = False

    @property
    def enabled(self) -> bool:
        """Always true: a disabled limit needs no Redis."""
        return True

    @property
    def expiry_ms(self) -> int:
        """Lifetime of an untouched bucket key: the time an empty bucket takes to fill."""
        return max(1, math.ceil(self.burst / self.rate * 1000))

    def key(self, customer: Hashable) -> str:
        """The Redis key of ``customer``'s bucket."""
        return f"{self.prefix}{customer}"

    async def take(self, key: Hashable) -> float:
        """Take a token for ``key`` from the shared bucket (see the class docstring).

        Returns:
            ``0.0`` when the request may proceed, else the seconds to wait before retrying.
        """
        if self._skip_until is not None and self._clock() < self._skip_until:
            return self.fallback.acquire(key)
        try:
            answer = await self._script(keys=[self.key(key)], args=self._args)
        except self._errors as exc:
            self._skip_until = self._clock() + self._recheck_after
            if not self._down:
                self._down = True
                # The exception names host and port only, never the URL's password.
                logger.warning(
                    "rate limit: Redis unavailable (%s: %s); limiting per process until "
                    "it answers again",
                    type(exc).__name__,
                    exc,
                )
            return self.fallback.acquire(key)
        if self._down:
            self._down = False
            self._skip_until = None
            logger.info("rate limit: Redis answers again; buckets are shared again")
        return float(answer)

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._redis.aclose()
        await self.fallback.close()


def make_limiter(rate: float, burst: float, redis_url: str | None) -> RateLimiter:
    """The shared Redis bucket when a URL is configured and the limit is on, else the
    in-process one (which is also the disabled limit when ``rate <= 0``)."""
    if redis_url and rate > 0:
        return RedisTokenBucketLimiter(redis_url, rate, burst)
    return TokenBucketLimiter(rate, burst)


def retry_after_header(wait_seconds: float) -> bytes:
    """``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_seconds))).encode()

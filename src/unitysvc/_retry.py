"""The retry policy: which failures are retried and how long to wait (pure, no I/O)."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from unitysvc._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY

#: Statuses that say "try again later" without the request having taken effect.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
#: Methods that are safe to repeat; POST only with an ``Idempotency-Key``.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def is_idempotent(method: str, headers: Mapping[str, str]) -> bool:
    """Whether repeating the request cannot apply it twice.

    Args:
        method: The HTTP method.
        headers: The request headers (case-insensitive mapping, e.g. ``httpx.Headers``).

    Returns:
        True for GET/HEAD/OPTIONS/PUT/DELETE, and for any request carrying an
        ``Idempotency-Key`` (the server then executes it once).
    """
    return method.upper() in IDEMPOTENT_METHODS or "idempotency-key" in headers


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date.

    Args:
        value: The header value, or None.
        now: The current Unix time (injectable for tests).

    Returns:
        Seconds to wait (never negative), or None when absent or unparseable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry and how long to back off.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        initial_delay: Upper bound of the first backoff; doubles per attempt.
        max_delay: Cap of any single backoff.
        max_retry_after: A server hint longer than this is not honoured by waiting.
    """

    max_retries: int
    initial_delay: float = INITIAL_RETRY_DELAY
    max_delay: float = MAX_RETRY_DELAY
    max_retry_after: float = MAX_RETRY_AFTER

    def delay(
        self,
        retries_done: int,
        retry_after: float | None = None,
        *,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to sleep before the next attempt, or None to stop retrying.

        Exponential backoff with full jitter (uniform in ``[0, min(cap, base * 2**n)]``),
        unless the server said how long to wait, which wins when it is within
        ``max_retry_after``.

        Args:
            retries_done: Retries already made for this call.
            retry_after: The server's ``Retry-After`` in seconds, if any.
            rand: Source of uniform randoms in [0, 1) (injectable for tests).

        Returns:
            The delay in seconds, or None when the budget is spent or the server asked
            for a longer wait than we are willing to block for.
        """
        if retries_done >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.max_delay, self.initial_delay * 2.0**retries_done)
        return rand() * ceiling

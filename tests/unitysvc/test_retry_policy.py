"""The retry decision and backoff schedule (pure)."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from unitysvc._retry import RetryPolicy, is_idempotent, parse_retry_after


def test_backoff_is_exponential_with_full_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_retries=10, initial_delay=0.5, max_delay=8.0)
    assert [policy.delay(n, rand=lambda: 1.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.delay(3, rand=lambda: 0.0) == 0.0
    assert policy.delay(2, rand=lambda: 0.5) == 1.0


def test_budget_is_respected() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.delay(1) is not None
    assert policy.delay(2) is None
    assert RetryPolicy(max_retries=0).delay(0) is None


def test_retry_after_wins_within_the_cap() -> None:
    policy = RetryPolicy(max_retries=3, max_retry_after=60)
    assert policy.delay(0, 7.0) == 7.0
    assert policy.delay(0, 61.0) is None


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", {}, True),
        ("PUT", {}, True),
        ("DELETE", {}, True),
        ("POST", {}, False),
        ("PATCH", {}, False),
        ("POST", {"Idempotency-Key": "k"}, True),
    ],
)
def test_idempotency(method: str, headers: dict[str, str], expected: bool) -> None:
    assert is_idempotent(method, httpx.Headers(headers)) is expected

"""Pure units: the gateway path grammar."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from unitysvc_server.routing.paths import (
    DEFAULT_TTL_SECONDS,
    NO_WRAPPERS,
    PathError,
    parse_gateway_path,
    parse_ttl,
    unscheduled_path,
)

SID = str(uuid.UUID(int=7))


@pytest.mark.parametrize(
    ("path", "kind", "name", "rest"),
    [
        (f"p/{SID}", "service", SID, ""),
        (f"/p/{SID}/v1/chat/completions", "service", SID, "v1/chat/completions"),
        ("g/llm/v1/chat/completions", "group", "llm", "v1/chat/completions"),
        ("a/my-alias", "alias", "my-alias", ""),
        ("e/CEFF/chat", "enrollment", "CEFF", "chat"),
        ("c/pipeline", "chain", "pipeline", ""),
        ("b/notify/x", "broadcast", "notify", "x"),
        ("p/groq/openai/v1/models", "path", "", "p/groq/openai/v1/models"),
        ("ollama/api/chat", "path", "", "ollama/api/chat"),
        ("g/a%20b", "group", "a b", ""),
    ],
)
def test_addresses(path: str, kind: str, name: str, rest: str) -> None:
    parsed = parse_gateway_path(path)
    assert (parsed.kind, parsed.name, parsed.rest) == (kind, name, rest)
    assert parsed.wrappers is NO_WRAPPERS


def test_wrappers_any_order_and_params() -> None:
    parsed = parse_gateway_path(
        "t/f/m/l/g/llm/chat", b"_complete=&_ttl=5m&_renew&_else=p%2Fb%3F_ttl%3D5m&_to=a%2Fx&k=v"
    )
    w = parsed.wrappers
    assert (w.log, w.log_complete, w.memoize, w.ttl_seconds, w.renew) == (
        True,
        True,
        True,
        300,
        True,
    )
    assert w.failover == ("p/b?_ttl=5m",)
    assert w.tee == ("a/x",)
    assert parsed.query == "k=v"
    assert parsed.target == "g/llm/chat?k=v"


def test_sdk_double_question_mark_is_tolerated() -> None:
    parsed = parse_gateway_path("l/m/p/x", b"_ttl=1h?_complete=")
    assert parsed.wrappers.ttl_seconds == 3600
    assert parsed.wrappers.log_complete
    assert parsed.query == ""


def test_question_mark_in_forwarded_value_is_kept() -> None:
    parsed = parse_gateway_path("g/x", b"q=what?&n=1")
    assert parsed.query == "q=what?&n=1"


def test_target_ignores_wrappers() -> None:
    assert parse_gateway_path("l/m/p/x/y").target == parse_gateway_path("p/x/y").target


def test_memoize_default_ttl() -> None:
    assert parse_gateway_path("m/g/x").wrappers.ttl_seconds == DEFAULT_TTL_SECONDS


@pytest.mark.parametrize(
    ("value", "seconds"), [("60s", 60), ("5m", 300), ("1h", 3600), ("7d", 604800)]
)
def test_ttl(value: str, seconds: int) -> None:
    assert parse_ttl(value) == seconds


@pytest.mark.parametrize("value", ["0s", "8d", "1w", "", "h", "-1s", "1.5h"])
def test_bad_ttl(value: str) -> None:
    with pytest.raises(PathError) as info:
        parse_ttl(value)
    assert info.value.status == 400
    assert "_ttl" in info.value.detail


@pytest.mark.parametrize(
    ("path", "query", "status", "needle"),
    [
        ("f/g/x", b"_else=https%3A%2F%2Fevil.example%2F", 400, "external URL"),
        ("t/g/x", b"_to=%2F%2Fevil.example", 400, "external URL"),
        ("f/g/x", b"", 400, "_else"),
        ("g/x", b"_else=p%2Fy", 400, "f/"),
        ("g/x", b"_ttl=1h", 400, "m/"),
        ("d/g/x", b"", 400, "exactly one of _at"),
        ("d/g/x", b"_in=5m&_at=2026-01-01T00:00:00Z", 400, "exactly one of _at"),
        ("d/g/x", b"_in=5", 400, "not a duration"),
        ("d/g/x", b"_at=tomorrow", 400, "ISO-8601"),
        ("d/g/x", b"_in=367d", 400, "between 0s and 366d"),
        ("r/g/x", b"", 400, "_every"),
        ("r/g/x", b"_every=0s", 400, "between 1s"),
        ("g/x", b"_every=5m", 400, "r/"),
        ("g/x", b"_in=5m", 400, "d/"),
        ("l/m", b"", 404, "no target"),
        ("l", b"", 404, "no target"),
        ("g", b"", 404, "g/"),
    ],
)
def test_errors(path: str, query: bytes, status: int, needle: str) -> None:
    with pytest.raises(PathError) as info:
        parse_gateway_path(path, query)
    assert info.value.status == status
    assert needle in info.value.detail


def test_schedule_wrappers() -> None:
    delayed = parse_gateway_path("d/l/g/x/chat", b"_in=90s&_complete=&k=v")
    assert delayed.wrappers.scheduled and delayed.wrappers.delay_seconds == 90
    assert delayed.wrappers.log_complete and delayed.query == "k=v"
    at = parse_gateway_path("d/g/x", b"_at=2026-05-01T09%3A30%3A00").wrappers.delay_at
    assert at == datetime(2026, 5, 1, 9, 30, tzinfo=UTC)  # no offset: UTC
    offset = parse_gateway_path("d/g/x", b"_at=2026-05-01T11:30:00%2B02:00").wrappers.delay_at
    assert offset == at
    every = parse_gateway_path("r/p/x", b"_every=5m").wrappers
    assert every.every_seconds == 300 and every.scheduled
    assert not parse_gateway_path("l/p/x").wrappers.scheduled


@pytest.mark.parametrize(
    ("path", "query", "stored"),
    [
        ("d/p/x/chat", b"_in=5s", "p/x/chat"),
        ("/l/d/m/p/x/chat", b"_in=5s?_complete=&k=v", "l/m/p/x/chat?_complete=&k=v"),
        ("r/d/g/llm", b"_every=1m&_at=2026-01-01T00%3A00%3A00Z", "g/llm"),
        ("r/f/g/llm", b"_every=1m&_else=p%2Fy", "f/g/llm?_else=p%2Fy"),
    ],
)
def test_unscheduled_path_keeps_everything_but_d_and_r(
    path: str, query: bytes, stored: str
) -> None:
    assert unscheduled_path(path, query) == stored
    raw, _, rest = stored.partition("?")
    assert not parse_gateway_path(raw, rest.encode()).wrappers.scheduled


def test_secondary_leading_slash_stripped() -> None:
    assert parse_gateway_path("f/g/x", b"_else=%2Fg%2Fy").wrappers.failover == ("g/y",)


def test_repeated_failover_in_order() -> None:
    parsed = parse_gateway_path("f/f/g/x", b"_else=g%2Fy&_else=g%2Fz")
    assert parsed.wrappers.failover == ("g/y", "g/z")

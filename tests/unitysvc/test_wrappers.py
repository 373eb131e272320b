"""Gateway wrapper paths are built from data, in canonical order, encoded once."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from unitysvc._wrappers import WrapSpec, gateway_relative, render, ttl_seconds


def test_no_wrapper_returns_base_unchanged() -> None:
    assert render("/p/abc", WrapSpec()) == "p/abc"


def test_single_wrappers() -> None:
    assert render("p/svc", WrapSpec().with_log(False)) == "l/p/svc"
    assert render("p/svc", WrapSpec().with_log(True)) == "l/p/svc?_complete="
    assert render("p/svc", WrapSpec().with_cache("1h", False)) == "m/p/svc?_ttl=1h"
    assert render("p/svc", WrapSpec().with_cache(None, False)) == "m/p/svc"
    assert render("p/svc", WrapSpec().with_failover("p/secondary")) == (
        "f/p/svc?_else=p%2Fsecondary"
    )
    assert render("p/svc", WrapSpec().with_tee("g/audit")) == "t/p/svc?_to=g%2Faudit"


def test_chaining_order_does_not_matter_and_yields_one_query_string() -> None:
    a = WrapSpec().with_cache("1h", False).with_log(True)
    b = WrapSpec().with_log(True).with_cache("1h", False)
    assert render("p/abc", a) == render("p/abc", b) == "l/m/p/abc?_complete=&_ttl=1h"
    assert render("p/abc", a).count("?") == 1


def test_all_four_compose_with_sub_path_before_query() -> None:
    spec = WrapSpec().with_tee("p/t").with_failover("p/f").with_cache("5m", True).with_log(False)
    path = render("g/llm", spec, "chat/completions")
    parts = urlsplit(path)
    assert parts.path == "l/m/f/t/g/llm/chat/completions"
    assert parse_qsl(parts.query, keep_blank_values=True) == [
        ("_ttl", "5m"),
        ("_renew", ""),
        ("_else", "p/f"),
        ("_to", "p/t"),
    ]


def test_secondary_with_its_own_wrappers_is_encoded_whole() -> None:
    secondary = render("p/b", WrapSpec().with_cache("5m", False))
    assert secondary == "m/p/b?_ttl=5m"
    path = render("p/a", WrapSpec().with_failover(secondary))
    assert path == "f/p/a?_else=m%2Fp%2Fb%3F_ttl%3D5m"
    assert dict(parse_qsl(urlsplit(path).query))["_else"] == secondary


def test_existing_query_is_kept() -> None:
    assert render("p/a?x=1", WrapSpec().with_log(False)) == "l/p/a?x=1"
    assert render("p/a?x=1", WrapSpec().with_cache("1d", False)) == "m/p/a?x=1&_ttl=1d"


@pytest.mark.parametrize(
    ("ttl", "seconds"), [("60s", 60), ("5m", 300), ("1h", 3600), ("7d", 604800)]
)
def test_ttl_parsing(ttl: str, seconds: int) -> None:
    assert ttl_seconds(ttl) == seconds


@pytest.mark.parametrize("ttl", ["", "1w", "0s", "-1h", "1.5h", "8d", "h"])
def test_bad_ttl_is_rejected_with_a_fix(ttl: str) -> None:
    with pytest.raises(ValueError, match="ttl="):
        ttl_seconds(ttl)


@pytest.mark.parametrize("target", ["https://evil.example/x", "http://127.0.0.1/", "//host/x"])
def test_external_secondaries_are_refused(target: str) -> None:
    with pytest.raises(ValueError, match="gateway-relative"):
        gateway_relative(target, what="failover")


def test_gateway_relative_accepts_objects_with_path() -> None:
    class Target:
        path = "/g/llm"

    assert gateway_relative(Target(), what="tee") == "g/llm"
    with pytest.raises(ValueError, match="must be a gateway path"):
        gateway_relative(object(), what="tee")


def test_target_secondaries_follow_the_dispatch_sub_path() -> None:
    spec = (
        WrapSpec()
        .with_failover("g/llm", follows_sub_path=True)
        .with_tee("m/p/audit?_ttl=5m", follows_sub_path=True)
        .with_failover("p/fixed")
    )
    assert render("p/svc", spec, "chat/completions") == (
        "f/f/t/p/svc/chat/completions?_else=g%2Fllm%2Fchat%2Fcompletions&_else=p%2Ffixed"
        "&_to=m%2Fp%2Faudit%2Fchat%2Fcompletions%3F_ttl%3D5m"
    )
    # Without a sub-path the secondaries are exactly what was given.
    assert render("p/svc", spec) == (
        "f/f/t/p/svc?_else=g%2Fllm&_else=p%2Ffixed&_to=m%2Fp%2Faudit%3F_ttl%3D5m"
    )

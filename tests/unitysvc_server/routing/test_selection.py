"""Pure units of routing selection: strategies, key matching, errors, channels."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from unitysvc_server.catalog.model import (
    CatalogService,
    ServiceInterface,
    UpstreamChannel,
    freeze,
)
from unitysvc_server.routing.selection import (
    Ambiguous,
    Candidate,
    LatencyTracker,
    NoChannel,
    NoRoute,
    Strategy,
    UnknownStrategy,
    channel_check,
    effective_strategy,
    extract_routing_key,
    list_price_amount,
    match_routing_key,
    select,
    select_channel,
)


def make_service(
    name: str,
    *,
    price: dict[str, Any] | None = None,
    channels: dict[str, dict[str, Any]] | None = None,
    key: dict[str, Any] | None = None,
) -> CatalogService:
    configs = channels or {"managed": {"base_url": "http://upstream", "routing_key": key}}
    return CatalogService(
        id=uuid.uuid5(uuid.NAMESPACE_URL, name),
        name=name,
        display_name=name,
        summary=None,
        description=None,
        provider_name="test",
        seller_name="test",
        offering_name=name,
        service_type="llm",
        status="active",
        visibility="public",
        capabilities=(),
        tags=(),
        list_price=freeze(price) if price else None,
        currency="USD",
        interfaces=(),
        channels=tuple(UpstreamChannel.from_config(n, c) for n, c in configs.items()),
        user_parameters_schema=None,
        enrollment_required=False,
        documents=(),
        details=freeze({}),
        service_options=freeze({}),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def tokens(inp: str, out: str) -> dict[str, Any]:
    return {"type": "one_million_tokens", "input": inp, "output": out}


SMALL = make_service("small", price=tokens("0.10", "0.20"), key={"model": "small"})
MEDIUM = make_service("medium", price=tokens("0.50", "1.00"), key={"model": "medium"})
LARGE = make_service("large", price=tokens("2.00", "4.00"), key={"model": "large"})


def members(*weights: int) -> list[Candidate]:
    services = (SMALL, MEDIUM, LARGE)
    return [
        Candidate(service=s, weight=w, routing_key=s.native_routing_key)
        for s, w in zip(services, weights, strict=False)
    ]


def test_weighted_random_spread_follows_weights_within_tolerance() -> None:
    rng = random.Random(1234)
    pool = members(50, 30, 20)
    draws = 6000
    picks = Counter(
        select(pool, path="g/llm", strategy=Strategy(), rng=rng).selected.service.name
        for _ in range(draws)
    )
    assert abs(picks["small"] / draws - 0.50) < 0.03
    assert abs(picks["medium"] / draws - 0.30) < 0.03
    assert abs(picks["large"] / draws - 0.20) < 0.03


def test_weighted_random_never_picks_zero_weight_first_and_orders_all() -> None:
    rng = random.Random(7)
    pool = members(10, 0, 10)
    for _ in range(200):
        result = select(pool, path="g/x", strategy=Strategy(), rng=rng)
        assert result.selected.service is not MEDIUM
        assert result.candidates[-1].service is MEDIUM
        assert len(result.candidates) == 3


def test_weighted_random_is_reproducible_with_a_seed() -> None:
    pool = members(10, 10, 10)
    first = [
        select(pool, path="g", strategy=Strategy(), rng=random.Random(99)).selected.service.name
        for _ in range(5)
    ]
    assert len(set(first)) == 1


def test_by_price_picks_the_cheapest_whatever_the_order() -> None:
    pool = list(reversed(members(1, 1, 1)))
    result = select(pool, path="g/llm", strategy=Strategy(name="by_price"), rng=random.Random(1))
    assert [c.service.name for c in result.candidates] == ["small", "medium", "large"]


def test_by_price_puts_unpriced_last_and_uses_usage_estimates() -> None:
    free = make_service("free", price={"type": "constant", "price": "0"})
    unpriced = make_service("unpriced")
    pool = [Candidate(service=s) for s in (unpriced, LARGE, free)]
    ordered = select(pool, path="p", strategy=Strategy(name="by_price")).candidates
    assert [c.service.name for c in ordered] == ["free", "large", "unpriced"]
    cost = list_price_amount(SMALL, usage={"input_tokens": 1000, "output_tokens": 2000})
    assert cost == Decimal("0.0005")


def test_by_price_reads_the_channel_price() -> None:
    svc = make_service(
        "chan",
        price={
            "type": "channel",
            "default": "byok",
            "channels": {
                "byok": {"type": "constant", "price": "0"},
                "managed": {"type": "constant", "price": "0.02"},
            },
        },
    )
    assert list_price_amount(svc) == 0
    assert list_price_amount(svc, channel="managed") == Decimal("0.02")


def test_lowest_latency_prefers_fast_and_explores_unmeasured() -> None:
    tracker = LatencyTracker(alpha=0.5)
    tracker.observe(SMALL.id, 100)
    tracker.observe(SMALL.id, 300)
    tracker.observe(MEDIUM.id, 50)
    assert tracker.average(SMALL.id) == 200
    pool = members(10, 10, 10)
    ordered = select(
        pool, path="g", strategy=Strategy(name="lowest_latency"), latency=tracker
    ).candidates
    assert [c.service.name for c in ordered] == ["large", "medium", "small"]


def test_content_dependent_narrows_to_the_named_member() -> None:
    strategy = Strategy(content_dependent=True)
    for _ in range(50):
        result = select(
            members(50, 30, 20), path="g/llm", routing_key={"model": "large"}, strategy=strategy
        )
        assert result.selected.service is LARGE
        assert result.narrowed
    spread = select(
        members(50, 30, 20), path="g/llm", routing_key={"model": "gpt-4"}, strategy=strategy
    )
    assert len(spread.candidates) == 3 and not spread.narrowed


def test_key_required_refuses_unknown_keys_naming_the_alternatives() -> None:
    strategy = Strategy(content_dependent=True, parameters={"key_required": True})
    with pytest.raises(NoRoute) as caught:
        select(members(1, 1, 1), path="g/mine", routing_key={"model": "x"}, strategy=strategy)
    assert caught.value.path == "g/mine"
    assert '{"model": "small"}' in caught.value.tried
    assert "g/mine" in caught.value.detail


def test_no_candidates_is_no_route() -> None:
    with pytest.raises(NoRoute, match="no service routes /p/nothing"):
        select([], path="p/nothing")


def test_several_matches_without_strategy_is_ambiguous() -> None:
    pool = members(1, 1)
    with pytest.raises(Ambiguous) as caught:
        select(pool, path="p/groq")
    assert {c.service.name for c in caught.value.candidates} == {"small", "medium"}
    assert "small" in caught.value.detail and "medium" in caught.value.detail


def test_single_match_without_strategy_is_selected() -> None:
    result = select(members(1), path="small/v1")
    assert result.selected.service is SMALL and result.strategy is None
    assert result.routing_strategy is None


def test_match_routing_key_keyed_then_unkeyed_fallback() -> None:
    iface = ServiceInterface(name="i", base_url="${API_GATEWAY_BASE_URL}/p/x")
    keyed = Candidate(service=SMALL, interface=iface, routing_key=freeze({"model": "small"}))
    open_ = Candidate(service=MEDIUM, interface=iface, routing_key=None)
    assert match_routing_key([keyed, open_], {"model": "small"}, path="p/x") == [keyed]
    assert match_routing_key([keyed, open_], {"model": "other"}, path="p/x") == [open_]
    assert match_routing_key([keyed, open_], None, path="p/x") == [open_]
    with pytest.raises(NoRoute) as caught:
        match_routing_key([keyed], {"model": "other"}, path="p/x")
    assert caught.value.tried == ('{"model": "small"}',)


def test_strategy_objects_and_overrides() -> None:
    policy = {"name": "weighted_random", "content_dependent": True}
    assert effective_strategy(policy, None) == Strategy(content_dependent=True)
    assert effective_strategy(policy, "by_price") == Strategy(name="by_price")
    assert effective_strategy(None, None) is None
    assert Strategy(name="by_price").to_wire() == {"name": "by_price", "content_dependent": False}
    with pytest.raises(UnknownStrategy, match="cheapest"):
        effective_strategy(None, "cheapest")


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"model": "m1", "x": 1}', "application/json", {"model": "m1"}),
        (b'  {"model": "m1"}', None, {"model": "m1"}),
        (b'{"model": ""}', "application/json", None),
        (b'{"model": 3}', "application/json", None),
        (b"[1, 2]", "application/json", None),
        (b"not json", "text/plain", None),
        (b"model=whisper&x=1", "application/x-www-form-urlencoded", {"model": "whisper"}),
        (b"", "application/json", None),
    ],
)
def test_extract_routing_key(body: bytes, content_type: str | None, expected: Any) -> None:
    assert extract_routing_key(body, content_type) == expected


def test_extract_routing_key_from_multipart() -> None:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\nRIFF....\r\n"
        b'--XX\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-large-v3\r\n'
        b"--XX--\r\n"
    )
    assert extract_routing_key(body, "multipart/form-data; boundary=XX") == {
        "model": "whisper-large-v3"
    }


def test_select_channel_first_usable_by_sort_order() -> None:
    svc = make_service(
        "multi",
        channels={
            "byok": {"base_url": "u", "api_key": "${ customer_secrets.K }", "sort_order": 0},
            "managed": {"base_url": "u", "api_key": "${ secrets.S }", "sort_order": 1},
            "byoe": {"base_url": "{{ params.base_url }}", "sort_order": 2},
        },
    )
    kinds = {c.name: c.kind for c in svc.channels}
    assert kinds == {"byok": "byok", "managed": "managed", "byoe": "byoe"}
    with_key = channel_check({"K"}, enrollment_active=False)
    assert select_channel(svc, with_key).name == "byok"
    without = channel_check(set(), enrollment_active=False)
    assert select_channel(svc, without).name == "managed"
    with pytest.raises(NoChannel) as caught:
        select_channel(svc, without, requested="byoe")
    assert "enrollment" in caught.value.detail
    enrolled = channel_check(set(), enrollment_active=True)
    assert select_channel(svc, enrolled, requested="byoe").name == "byoe"


def test_no_channel_names_the_missing_secret() -> None:
    svc = make_service(
        "byok-only", channels={"byok": {"base_url": "u", "api_key": "${ customer_secrets.K }"}}
    )
    with pytest.raises(NoChannel) as caught:
        select_channel(svc, channel_check(set(), enrollment_active=False))
    assert caught.value.missing_secrets == ("K",)
    assert "PUT /v1/secrets/K" in caught.value.detail
    with pytest.raises(NoChannel, match="no such channel"):
        select_channel(svc, channel_check({"K"}, enrollment_active=False), requested="nope")


def test_optional_secret_does_not_block_a_channel() -> None:
    svc = make_service(
        "opt", channels={"c": {"base_url": "u", "api_key": "${ customer_secrets.K ?? none }"}}
    )
    channel = svc.channels[0]
    assert channel.required_secrets == () and channel.optional_secrets == ("K",)
    assert select_channel(svc, channel_check(set(), enrollment_active=False)) is channel

"""Pure alias rules: switch cycling order and the gateway's routing-row choice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from unitysvc_server.domain.aliases import (
    canonical_routing_key,
    pick_routing_alias,
    pick_switch_target,
    select_routing_alias,
)
from unitysvc_server.storage.tables.aliases import AliasRow


def alias(target: str, *, routing: bool = False, key: dict[str, Any] | None = None) -> AliasRow:
    return AliasRow(
        id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        name="llm",
        target_path=target,
        is_routing=routing,
        request_routing_key=key,
        routing_key_canonical=canonical_routing_key(key),
    )


def test_canonical_routing_key_ignores_order_and_emptiness() -> None:
    assert canonical_routing_key({"b": 1, "a": "x"}) == canonical_routing_key({"a": "x", "b": 1})
    assert canonical_routing_key(None) == canonical_routing_key({}) == ""


def test_single_match_is_switched() -> None:
    only = alias("g/one", routing=True)
    assert pick_switch_target([only], on=True) is only
    assert pick_switch_target([only], on=False) is only


def test_no_routing_row_picks_the_first() -> None:
    rows = [alias("a"), alias("b"), alias("c")]
    assert pick_switch_target(rows, on=True) is rows[0]


def test_switch_on_cycles_after_the_routing_row_and_wraps() -> None:
    rows = [alias("a"), alias("b", routing=True), alias("c")]
    assert pick_switch_target(rows, on=True) is rows[2]
    rows = [alias("a"), alias("b"), alias("c", routing=True)]
    assert pick_switch_target(rows, on=True) is rows[0]


def test_switch_off_acts_on_the_routing_row() -> None:
    rows = [alias("a"), alias("b", routing=True), alias("c")]
    assert pick_switch_target(rows, on=False) is rows[1]


def test_empty_match_set_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        pick_switch_target([], on=True)


def test_routing_row_with_matching_key_beats_the_fallback() -> None:
    fallback = alias("g/llm", routing=True)
    opus = alias("p/opus", routing=True, key={"model": "opus"})
    both = alias("p/opus-eu", routing=True, key={"model": "opus", "region": "eu"})
    rows = [fallback, opus, both]
    assert select_routing_alias(rows, {"model": "opus"}) is opus
    assert select_routing_alias(rows, {"model": "opus", "region": "eu"}) is both
    assert select_routing_alias(rows, {"model": "haiku"}) is fallback
    assert select_routing_alias(rows, None) is fallback


def test_no_fallback_and_no_match_is_none() -> None:
    rows = [alias("p/opus", routing=True, key={"model": "opus"})]
    assert select_routing_alias(rows, {"model": "haiku"}) is None
    assert select_routing_alias([], {"model": "opus"}) is None


def test_pick_routing_alias_by_id_then_by_routing_rows_of_the_name() -> None:
    serving = alias("g/llm", routing=True)
    waiting = alias("p/large")  # not routing: reachable only by its id
    other = alias("g/other", routing=True)
    other.name = "other"
    live = [waiting, serving, other]
    assert pick_routing_alias(live, "llm", None) is serving
    assert pick_routing_alias(live, str(waiting.id), None) is waiting
    assert pick_routing_alias(live, "other", None) is other
    assert pick_routing_alias(live, "missing", None) is None
    assert pick_routing_alias(live, str(uuid.uuid4()), None) is None

"""End to end: default weights, content-dependent groups, and resolve predicting dispatch.

Groups from ``data/groups.toml``: ``even`` (weighted_random, no weights given),
``bykey`` (weighted_random, content-dependent; members renamed ``gw-cheap`` and
``gw-pricey``) and ``fastest`` (lowest_latency; ``pricey`` answers ``.../slowish``
50 ms late).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from gateway_helpers import FakeUpstream

import unitysvc


def served_by(fake: FakeUpstream, marker: str) -> str:
    """Which gwtest member the latest upstream hit under ``marker`` went to."""
    (last,) = [hit for hit in fake.hits if marker in hit["path"]][-1:]
    return str(last["path"]).split("/")[1]


def test_members_without_weights_share_evenly(
    client: unitysvc.Client, fake: FakeUpstream, marker: str
) -> None:
    resolved = client.resolve(path="g/even")
    assert {c.service_name: c.weight for c in resolved.candidates} == {"cheap": 10, "pricey": 10}
    calls = 300
    for _ in range(calls):
        assert client.dispatch(f"g/even/{marker}", json={}).status_code == 200
    cheap, pricey = fake.count(f"/cheap/{marker}"), fake.count(f"/pricey/{marker}")
    assert cheap + pricey == calls
    # Equal default weights -> 50 %; four standard deviations of binomial(300, .5) ~ 0.115.
    assert abs(cheap / calls - 0.5) < 0.12, (cheap, pricey)


def test_content_dependent_group_follows_the_routing_key(
    client: unitysvc.Client, fake: FakeUpstream, marker: str
) -> None:
    for model, member in (("gw-pricey", "pricey"), ("gw-cheap", "cheap")):
        for _ in range(15):
            response = client.dispatch(f"g/bykey/{marker}-{member}", json={"model": model})
            assert response.status_code == 200, response.text
        assert fake.count(f"/{member}/{marker}-{member}") == 15
        # The dry run narrows to the member the key names, like the dispatch did.
        resolved = client.resolve(path="g/bykey", routing_key={"model": model})
        assert [c.service_name for c in resolved.candidates] == [member]
        assert (resolved.routing_strategy or {})["content_dependent"] is True
    # A request naming no member's key is spread over all members.
    for _ in range(60):
        assert client.dispatch(f"g/bykey/{marker}-any", json={"q": 1}).status_code == 200
    assert fake.count(f"/cheap/{marker}-any") > 0 and fake.count(f"/pricey/{marker}-any") > 0


def test_resolve_predicts_lowest_latency_dispatch(
    client: unitysvc.Client, fake: FakeUpstream, marker: str
) -> None:
    # Unmeasured members are tried first: afterwards both have a moving average.
    for _ in range(3):
        assert client.dispatch(f"g/fastest/{marker}/slowish", json={}).status_code == 200
    for _ in range(8):
        resolved = client.resolve(path="g/fastest")
        assert resolved.selected is not None
        assert (resolved.routing_strategy or {})["name"] == "lowest_latency"
        assert client.dispatch(f"g/fastest/{marker}/slowish", json={}).status_code == 200
        # Same observations, deterministic policy: the dry run named the member used.
        assert served_by(fake, marker) == resolved.selected.service_name


def test_by_price_resolve_and_dispatch_agree_on_every_call(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    for _ in range(5):
        resolved = client.resolve(path=f"g/cheapest/{marker}")
        assert resolved.selected is not None
        assert client.dispatch(f"g/cheapest/{marker}", json={}).status_code == 200
        assert served_by(fake, marker) == resolved.selected.service_name == "cheap"
        assert str(resolved.selected.service_id) == service_id("cheap")


def test_unknown_service_and_group_are_404_naming_them(client: unitysvc.Client) -> None:
    missing = str(uuid.uuid4())
    by_id = client.dispatch(f"p/{missing}/x", json={})
    assert by_id.status_code == 404
    assert missing in by_id.json()["detail"]
    assert by_id.json()["error_type"] == "no_route"
    group = client.dispatch("g/no-such-group/x", json={})
    assert group.status_code == 404
    assert "no-such-group" in group.json()["detail"]
    assert group.json()["error_source"] == "gateway"


def test_by_price_compares_listings_priced_in_different_units(
    client: unitysvc.Client, fake: FakeUpstream, marker: str
) -> None:
    # cheap: $0.10 / 1M tokens, pricey: $5 / 1M tokens, flat: $0.001 per request. For a
    # nominal request (1,000 tokens) that is $0.0001, $0.005 and $0.001: cheap, flat, pricey
    # -- not the raw amounts' order (flat's 0.001 < cheap's 0.10).
    resolved = client.resolve(path="g/mixedprice")
    assert [c.service_name for c in resolved.candidates] == ["cheap", "flat", "pricey"]
    assert resolved.selected is not None and resolved.selected.service_name == "cheap"
    for _ in range(5):
        assert client.dispatch(f"g/mixedprice/{marker}", json={}).status_code == 200
    assert fake.count(f"/cheap/{marker}") == 5
    assert fake.count(f"/flat/{marker}") == fake.count(f"/pricey/{marker}") == 0

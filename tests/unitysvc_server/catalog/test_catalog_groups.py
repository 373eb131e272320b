"""The groups TOML file, ``all_services``, and group candidates/strategies."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from unitysvc_server.catalog.groups import (
    ALL_SERVICES,
    GroupsFileError,
    all_services_group,
    group_id,
    load_groups_file,
    parse_groups,
)
from unitysvc_server.catalog.model import Catalog, strip_prefix
from unitysvc_server.demo.catalog import demo_groups, demo_services
from unitysvc_server.routing.selection import NoRoute, select
from unitysvc_server.routing.targets import (
    caller_can_use,
    group_candidates,
    group_remainder,
    group_strategy,
    path_candidates,
    prefer_usable,
)

SERVICES = demo_services("http://127.0.0.1:9")
BY_NAME = {s.name: s for s in SERVICES}


def catalog_with(text: str) -> Catalog:
    groups = parse_groups(text, SERVICES, "test.toml")
    return Catalog(SERVICES, [*groups, all_services_group(SERVICES)], "http://gw:1")


def test_full_group_definition() -> None:
    catalog = catalog_with(
        """
[[group]]
name = "cheap"
display_name = "Cheap"
sort_order = 3
routing_policy = { name = "by_price", timeout_ms = 500 }
interface = { base_url = "${API_GATEWAY_BASE_URL}/g/cheap/v1", name = "openai" }

[[group.members]]
service = "demo-small"
weight = 5
routing_key = { model = "tiny" }

[[group.members]]
service = "LARGE_ID"
""".replace("LARGE_ID", str(BY_NAME["demo-large"].id))
    )
    group = catalog.group("cheap")
    assert group is not None
    assert group.id == group_id("cheap") and catalog.group(group.id) is group
    assert group.group_type == "open"
    assert dict(group.routing_policy or {}) == {
        "name": "by_price",
        "content_dependent": False,
        "timeout_ms": 500,
    }
    assert catalog.render_url(group.interface.base_url) == "http://gw:1/g/cheap/v1"  # type: ignore[union-attr]
    small, large = group_candidates(catalog, group)
    assert small.weight == 5 and dict(small.routing_key or {}) == {"model": "tiny"}
    assert dict(small.upstream_routing_key or {}) == {"model": "demo-small"}
    assert large.weight == 10 and dict(large.routing_key or {}) == {"model": "demo-large"}
    assert large.upstream_routing_key is None
    assert [g.name for g in catalog.groups_of(BY_NAME["demo-small"].id)] == [ALL_SERVICES, "cheap"]


def test_match_rule_adds_services_by_attribute() -> None:
    catalog = catalog_with(
        """
[[group]]
name = "proxies"
[group.match]
service_type = "proxy"
"""
    )
    group = catalog.group("proxies")
    assert group is not None
    assert [catalog.service(m.service_id).name for m in group.members] == ["echo"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[group]]\nname = "Bad Name"', "slug"),
        ('[[group]]\nname = "x1"\n[[group.members]]\nservice = "nope"', "no service 'nope'"),
        ('[[group]]\nname = "x1"\nrouting_policy = { name = "cheapest" }', "cheapest"),
        ('[[group]]\nname = "x1"\nstatus = "gone"', "status"),
        ('[[group]]\nname = "x1"\ncolour = "red"', "unknown keys"),
        ('[[group]]\nname = "x1"\n[[group.members]]\nservice = "echo"\nweight = -1', "weight"),
        ('[[group]]\nname = "all_services"', "reserved"),
        ("[[group]\nname=", "not valid TOML"),
        ('[[group]]\nname = "x1"\ninterface = { name = "i" }', "base_url"),
    ],
)
def test_invalid_groups_file_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(GroupsFileError, match=message) as caught:
        parse_groups(text, SERVICES, "groups.toml")
    assert "groups.toml" in str(caught.value)


def test_groups_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "groups.toml"
    path.write_text('[[group]]\nname = "one"\n[[group.members]]\nservice = "echo"\n')
    (group,) = load_groups_file(path, SERVICES)
    assert group.name == "one" and len(group.members) == 1
    with pytest.raises(GroupsFileError, match="cannot read"):
        load_groups_file(tmp_path / "missing.toml", SERVICES)


def test_all_services_holds_every_listed_service_newest_first() -> None:
    group = all_services_group(SERVICES)
    ids = [m.service_id for m in group.members]
    assert set(ids) == {s.id for s in SERVICES}
    created = [next(s for s in SERVICES if s.id == i).created_at for i in ids]
    assert created == sorted(created, reverse=True)
    assert group.group_type == "keyed"
    assert all_services_group([]).members == ()


def test_demo_llm_group_routes_by_model_else_weighted() -> None:
    groups = demo_groups(SERVICES)
    catalog = Catalog(SERVICES, groups)
    llm = catalog.group("llm")
    assert llm is not None and llm.is_routable
    strategy = group_strategy(llm)
    assert strategy.content_dependent and strategy.name == "weighted_random"
    candidates = group_candidates(catalog, llm)
    picked = select(
        candidates, path="g/llm", routing_key={"model": "demo-medium"}, strategy=strategy
    )
    assert picked.selected.service.name == "demo-medium"
    rng = random.Random(5)
    names = {
        select(candidates, path="g/llm", strategy=strategy, rng=rng).selected.service.name
        for _ in range(100)
    }
    assert names == {"demo-small", "demo-medium", "demo-large"}
    assert group_strategy(llm, "by_price").content_dependent is False


def test_keyed_groups_require_a_matching_key() -> None:
    catalog = Catalog(SERVICES, [all_services_group(SERVICES)])
    group = catalog.group(ALL_SERVICES)
    assert group is not None
    strategy = group_strategy(group)
    assert strategy.key_required
    picked = select(
        group_candidates(catalog, group),
        path="g/all_services",
        routing_key={"model": "demo-byok"},
        strategy=strategy,
    )
    assert picked.selected.service.name == "demo-byok"


def test_group_remainder_strips_the_group_interface_path() -> None:
    llm = Catalog(SERVICES, demo_groups(SERVICES)).group("llm")
    assert llm is not None
    assert group_remainder(llm, "v1/chat/completions") == "chat/completions"
    assert group_remainder(llm, "chat/completions") == "chat/completions"
    assert group_remainder(llm, "") == ""
    assert strip_prefix("g/llm2/x", "g/llm") is None


def test_path_candidates_at_a_demo_interface() -> None:
    catalog = Catalog(SERVICES)
    target = path_candidates(catalog, "demo-small/v1/chat/completions", {"model": "anything"})
    assert target is not None
    assert target.match.remainder == "chat/completions"
    assert [c.service.name for c in target.candidates] == ["demo-small"]
    assert path_candidates(catalog, "unknown/x", None) is None


def test_keyed_group_falls_back_to_unkeyed_members_for_unknown_keys() -> None:
    catalog = Catalog(SERVICES)
    group = all_services_group(SERVICES)
    picked = select(
        group_candidates(catalog, group),
        path="g/all_services",
        routing_key={"model": "missing"},
        strategy=group_strategy(group),
        rng=random.Random(3),
    )
    assert {c.service.name for c in picked.candidates} == {"echo", "demo-down", "demo-byoe"}
    keyed_only = [c for c in group_candidates(catalog, group) if c.routing_key]
    with pytest.raises(NoRoute, match="missing"):
        select(
            keyed_only,
            path="g/all_services",
            routing_key={"model": "missing"},
            strategy=group_strategy(group),
        )


def test_usable_candidates_prefer_what_the_caller_can_use() -> None:
    catalog = Catalog(SERVICES)
    byok, small = BY_NAME["demo-byok"], BY_NAME["demo-small"]
    byoe = BY_NAME["demo-byoe"]
    assert not caller_can_use(byok, set(), set())
    assert caller_can_use(byok, {"DEMO_API_KEY"}, set())
    assert not caller_can_use(byoe, set(), set())
    assert caller_can_use(byoe, set(), {byoe.id})
    group = all_services_group(SERVICES)
    pool = group_candidates(catalog, group)
    kept = prefer_usable(pool, lambda s: caller_can_use(s, set(), set()))
    assert byok.id not in {c.service.id for c in kept}
    assert small.id in {c.service.id for c in kept}
    only_byok = [c for c in pool if c.service is byok]
    assert prefer_usable(only_byok, lambda s: False) == only_byok

"""``domain.addresses``: the lookup the gateway and ``/v1/resolve`` share.

Pure units: the catalog is in memory and the session callable refuses to be called, so
these prove which addresses resolve without any database read (the gateway's hot path).
The database-backed kinds (collections, enrollments, BYOK/BYOE usability) are exercised
over HTTP by the gateway and ``/v1/resolve`` tests.
"""

from __future__ import annotations

import dataclasses
import random
import uuid

import pytest

from unitysvc_server.catalog.model import Catalog
from unitysvc_server.demo.catalog import demo_groups, demo_services
from unitysvc_server.domain.addresses import (
    CallerFacts,
    UnknownAddress,
    needs_caller_context,
    resolve_address,
)
from unitysvc_server.domain.caller_context import CallerContext
from unitysvc_server.routing.paths import parse_gateway_path
from unitysvc_server.routing.selection import Ambiguous, NoRoute

SERVICES = demo_services("http://127.0.0.1:9")
BY_NAME = {s.name: s for s in SERVICES}
CATALOG = Catalog(SERVICES, demo_groups(SERVICES), "http://gw:1")


async def _no_database() -> CallerContext:
    raise AssertionError("resolution read the database (the caller's context)")


def _caller() -> CallerFacts:
    return CallerFacts(uuid.uuid4(), _no_database)


async def test_service_id_of_a_managed_service_reads_nothing() -> None:
    small = BY_NAME["demo-small"]
    target = await resolve_address(
        CATALOG, parse_gateway_path(f"p/{small.id}/v1/chat/completions"), None, _caller()
    )
    assert target.selection.selected.service is small
    assert target.selection.strategy is None
    assert target.sub_path == "v1/chat/completions"
    assert target.enrollment is None and target.selection.selected.enrollment_id is None


async def test_listing_path_reads_nothing_and_strips_the_declared_prefix() -> None:
    target = await resolve_address(
        CATALOG, parse_gateway_path("demo-large/v1/chat/completions"), None, _caller()
    )
    assert target.selection.selected.service is BY_NAME["demo-large"]
    assert target.sub_path == "chat/completions"


async def test_group_of_managed_members_reads_nothing() -> None:
    members = [BY_NAME[n] for n in ("demo-small", "demo-medium", "demo-large")]
    assert not any(needs_caller_context(s) for s in members)
    target = await resolve_address(
        CATALOG,
        parse_gateway_path("g/llm/v1/chat/completions"),
        {"model": "demo-medium"},
        _caller(),
        rng=random.Random(1),
    )
    assert target.selection.selected.service is BY_NAME["demo-medium"]
    assert target.selection.narrowed


async def test_unknown_addresses_are_typed_errors() -> None:
    with pytest.raises(UnknownAddress, match="no active service"):
        await resolve_address(CATALOG, parse_gateway_path(f"p/{uuid.uuid4()}"), None, _caller())
    with pytest.raises(NoRoute) as caught:
        await resolve_address(CATALOG, parse_gateway_path("demo-nothing/v1"), None, _caller())
    assert "p/<service-id>" in caught.value.tried


async def test_strategy_override_chooses_among_ambiguous_listing_matches() -> None:
    echo = BY_NAME["echo"]
    # A second service declaring the same path: only an override can choose.
    twin = dataclasses.replace(echo, id=uuid.uuid4(), name="echo-twin")
    doubled = Catalog([*SERVICES, twin], (), "http://gw:1")
    path = parse_gateway_path("echo")
    with pytest.raises(Ambiguous):
        await resolve_address(doubled, path, None, _caller())
    target = await resolve_address(doubled, path, None, _caller(), override="by_price")
    assert len(target.selection.candidates) == 2
    assert {c.service.name for c in target.selection.candidates} == {"echo", "echo-twin"}

"""Browsing groups and services through the SDK, sync and async."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from unitysvc import NotFoundError
from unitysvc.models import AccessInterface, AccessPlan


def test_groups_list_and_get(client: Any) -> None:
    page = client.groups.list()
    names = [g.name for g in page]
    assert {"all_services", "llm"} <= set(names)
    assert len(page) == page.count == len(names)
    filtered = client.groups.list(name="llm")
    assert [g.name for g in filtered] == ["llm"]
    llm = client.groups.get("llm")
    assert llm.name == "llm"
    assert llm.path == "g/llm"
    assert llm.interface.base_url.endswith("/v1")


def test_group_services_pages_and_iteration(client: Any) -> None:
    first = client.groups.services("all_services", limit=2)
    assert len(first) == 2
    assert first.has_more and first.next_cursor
    everything = list(client.groups.iter_services("all_services", page_size=2))
    ids = [s.id for s in everything]
    assert len(ids) == len(set(ids)) >= 7
    names = {s.name for s in everything}
    assert {"demo-small", "demo-medium", "demo-large", "echo"} <= {n.split("/")[-1] for n in names}
    searched = client.groups.services("all_services", search="echo")
    assert [s.name.split("/")[-1] for s in searched] == ["echo"]


def test_service_get_by_id_and_prefix_and_interfaces(client: Any) -> None:
    echo = next(iter(client.groups.services("all_services", search="echo")))
    full = client.services.get(echo.id)
    assert full.id == echo.id
    by_prefix = client.services.get(str(echo.id)[:8])
    assert by_prefix.id == echo.id
    interfaces = full.interfaces()
    assert interfaces and all(isinstance(i, AccessInterface) for i in interfaces)
    assert all(i.base_url for i in interfaces)


def test_unknown_service_is_not_found(client: Any) -> None:
    with pytest.raises(NotFoundError):
        client.services.get("00000000-0000-0000-0000-000000000000")


def test_anonymous_catalog_reads(anonymous: Any) -> None:
    assert "llm" in {g.name for g in anonymous.groups.list()}
    assert len(anonymous.groups.services("llm")) >= 3


def test_collections_crud_and_members(client: Any) -> None:
    import uuid

    name = "col-" + uuid.uuid4().hex[:8]
    collection = client.groups.create(name=name, display_name="Mine")
    assert collection.name == name
    echo = next(iter(client.groups.services("all_services", search="echo")))
    member = client.groups.add_member(collection.id, service_id=echo.id, routing_key={"model": "e"})
    assert member.service_id == echo.id
    assert [m.service_id for m in client.groups.members(collection.id)] == [echo.id]
    updated = client.groups.update(collection.id, display_name="Renamed")
    assert updated.display_name == "Renamed"
    assert name in {g.name for g in client.groups.list(owner="own")}
    # Collections have no group-level interface: they dispatch at ``g/<name>``.
    routed = collection.dispatch(path="hello", json={"model": "e"})
    assert routed.status_code == 200, routed.text
    assert routed.json()["path"].endswith("/hello")
    assert client.groups.dispatch(name, path="hello", json={"model": "e"}).status_code == 200
    client.groups.remove_member(collection.id, echo.id)
    assert list(client.groups.members(collection.id)) == []
    client.groups.delete(collection.id)
    assert name not in {g.name for g in client.groups.list(owner="own")}


def test_access_plan_and_documents(client: Any, anonymous: Any, service_id: Any) -> None:
    small = service_id(client, "demo-small")
    plan = client.services.access_plan(small)
    assert anonymous.services.access_plan(small) == plan  # no key needed
    assert isinstance(plan, AccessPlan)
    assert plan.enrollment_mode == "disallowed" and plan.gateway_type == "api"
    [channel] = plan.channels or []
    assert (channel.name, channel.default, channel.currency) == ("managed", True, "USD")
    assert [i.name for i in plan.interfaces or []] == ["canonical"]
    service = client.services.get(small)
    assert service.access_plan() == plan  # the record forwards to the same call
    listing = service.documents(category="code_example")
    assert {d.title for d in listing.documents or []} == {
        "Python code example",
        "cURL code example",
    }
    curl = next(d for d in listing.documents or [] if d.mime_type == "bash")
    one = client.services.document(small, curl.id)
    assert [d.id for d in one.documents or []] == [curl.id]
    assert one.available_interfaces == ["canonical"]
    content = (one.documents or [])[0].content or ""
    assert "/demo-small/v1/chat/completions" in content  # rendered against the interface
    assert service.document(curl.id).documents == one.documents
    with pytest.raises(NotFoundError):
        client.services.document(small, uuid.uuid4())


def test_get_by_name_is_get(client: Any) -> None:
    assert client.groups.get_by_name("llm").id == client.groups.get("llm").id

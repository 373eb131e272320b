"""Active records and dispatch bodies against the platform, sync and async."""

from __future__ import annotations

from typing import Any

import pytest

import unitysvc
from unitysvc import NotFoundError
from unitysvc.services import Service


def test_record_fields_are_forwarded_and_unknown_ones_named(client: Any, demo_service: Any) -> None:
    echo = demo_service("echo")
    assert echo.display_name == echo.record.display_name
    assert echo.to_dict()["id"] == str(echo.id)
    with pytest.raises(AttributeError, match=r"no attribute 'nope' \(record fields: .*name"):
        _ = echo.nope


def test_records_compare_by_type_and_content(platform: Any, api_key: str) -> None:
    with platform.client(api_key) as sdk:
        echo_id = next(iter(sdk.groups.services("all_services", search="echo"))).id
        first, again = sdk.services.get(echo_id), sdk.services.get(echo_id)
        assert isinstance(first, Service)
        assert first == again and hash(first) == hash(again)
        assert first != sdk.groups.get("llm")
        assert first != "echo"
        assert len({first, again}) == 1


def test_json_and_data_are_exclusive_before_any_request(client: Any, demo_service: Any) -> None:
    echo = demo_service("echo")
    with pytest.raises(unitysvc.ValidationError, match="either json= or data="):
        echo.dispatch(json={"a": 1}, data=b"raw")
    with pytest.raises(ValueError, match="either json= or data="):
        client.dispatch(f"p/{echo.id}/x", json={}, data="x")


def test_raw_and_form_bodies(client: Any, demo_service: Any) -> None:
    echo = demo_service("echo")
    raw = echo.dispatch(path="raw", data=b"\x00binary\xff", method="PUT").json()
    assert raw["method"] == "PUT"
    form = echo.dispatch(path="form", data={"a": ["1", "2"], "b": "x y"}).json()
    headers = {name.lower(): value for name, value in form["headers"].items()}
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert form["body"] == "a=1&a=2&b=x+y"


def test_group_without_interface_is_a_validation_error(client: Any) -> None:
    with pytest.raises(
        unitysvc.ValidationError, match="name='all_services': this group has no group-level"
    ) as caught:
        client.groups.dispatch("all_services", path="chat/completions", json={})
    assert caught.value.field == "name"
    assert isinstance(caught.value, ValueError)  # code catching ValueError keeps working


def test_unknown_group_dispatch_is_not_found(client: Any, anonymous: Any) -> None:
    with pytest.raises(NotFoundError):
        client.groups.dispatch("no-such-group", json={})
    # Anonymous callers have no collections to fall back on.
    with pytest.raises(NotFoundError):
        anonymous.groups.get("no-such-group")

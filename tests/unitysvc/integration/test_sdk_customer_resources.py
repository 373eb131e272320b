"""Aliases, recurrent requests and request logs through the SDK, sync and async."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from unitysvc import NotFoundError, ValidationError


def test_alias_lifecycle_and_switch(client: Any) -> None:
    name = "al-" + uuid.uuid4().hex[:8]
    first = client.aliases.create({"name": name, "target_path": "g/llm"})
    assert first.is_routing is True
    second = client.aliases.create({"name": name, "target_path": "p/other", "is_routing": False})
    assert second.is_routing is False
    switched = client.aliases.switch(str(second.id))
    assert switched.alias.id == second.id and switched.alias.is_routing
    assert switched.demoted_alias_id == first.id
    assert client.aliases.get(first.id).is_routing is False
    updated = client.aliases.update(first.id, {"description": "old route"})
    assert updated.description == "old route"
    listed = client.aliases.list(name=name)
    assert {a.id for a in listed.data} == {first.id, second.id}
    client.aliases.delete(first.id)
    assert {a.id for a in client.aliases.list(name=name).data} == {second.id}
    client.aliases.delete(second.id)


def test_alias_validation_names_the_field(client: Any) -> None:
    with pytest.raises(ValidationError) as info:
        client.aliases.create({"name": "Bad Name!", "target_path": "g/llm"})
    assert "name" in str(info.value)


def test_recurrent_request_create_update_delete(client: Any) -> None:
    created = client.recurrent_requests.create(
        {"request_path": "g/llm/chat/completions", "http_method": "POST", "name": "nightly"}
    )
    assert created.status == "draft"
    active = client.recurrent_requests.update(
        created.id, {"schedule": {"schedule_type": "interval", "interval_seconds": 3600}}
    )
    assert active.status == "active"
    assert created.id in {r.id for r in client.recurrent_requests.list().data}
    assert created.id in {r.id for r in client.recurrent_requests.iter(page_size=1)}
    client.recurrent_requests.delete(created.id)
    with pytest.raises(NotFoundError):
        client.recurrent_requests.get(created.id)


def test_bad_schedule_is_rejected(client: Any) -> None:
    created = client.recurrent_requests.create({"request_path": "g/llm", "http_method": "GET"})
    with pytest.raises(ValidationError):
        client.recurrent_requests.update(
            created.id, {"schedule": {"schedule_type": "cron", "cron_expression": "nope"}}
        )
    client.recurrent_requests.delete(created.id)


def test_request_logs_record_dispatches(client: Any, demo_service: Any) -> None:
    status = client.request_logs.start(truncate_long_message=True)
    assert status.enabled is True
    echo = demo_service("echo")
    marker = "log-" + uuid.uuid4().hex[:8]
    echo.dispatch(path=marker, json={"m": marker})
    deadline = time.monotonic() + 10
    rows: list[Any] = []
    while time.monotonic() < deadline and not rows:
        page = client.request_logs.list(limit=200)
        rows = [r for r in page.items if marker in r.user_request_path]
        if not rows:
            time.sleep(0.1)
    assert rows, "the dispatch was not logged"
    detail = client.request_logs.get(rows[0].log_id)
    assert detail.user_request.method == "POST"
    assert "authorization" not in {k.lower() for k in (detail.user_request.headers or {})}
    assert client.request_logs.stop().enabled is False

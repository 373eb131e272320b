"""Preferences through the SDK, sync and async, against a real platform."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from unitysvc import NotFoundError, ValidationError
from unitysvc.models import PreferencePublic, PreferencesPublic, PreferenceValue

#: Longer than the 8 KB preview a truncated log keeps.
BIG = "x" * 20_000


def _logged(client: Any, marker: str) -> Any:
    """The request-log detail of the call whose path holds ``marker`` (bounded wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = client.request_logs.list(limit=200).items
        rows = [r for r in rows if marker in r.user_request_path]
        if rows:
            return client.request_logs.get(rows[0].log_id)
        time.sleep(0.1)
    raise AssertionError(f"the call {marker} was not logged")


def test_list_shows_every_preference_unset_for_a_new_customer(fresh_client: Any) -> None:
    listed = fresh_client.preferences.list()
    assert isinstance(listed, PreferencesPublic)
    assert [p.name for p in listed] == ["notification", "ai", "request-log"]
    for pref in listed:
        assert pref.value is None and pref.effective is None and pref.source is None
        assert pref.account.type == "customer" and pref.can_edit is True


def test_request_log_mode_set_get_clear_is_the_logging_switch(fresh_client: Any) -> None:
    client = fresh_client
    done = client.preferences.set_request_log_mode("complete")
    assert isinstance(done, PreferencePublic)
    assert (done.name, done.value, done.effective, done.source) == (
        "request-log",
        "complete",
        "complete",
        "account",
    )
    assert client.preferences.get("request-log").value == "complete"
    # The 0.1.22 switch reads and writes the same state.
    assert client.request_logs.stop().enabled is False
    assert client.preferences.get("request-log").value is None
    assert client.request_logs.start(truncate_long_message=True).enabled is True
    assert client.preferences.get("request-log").value == "truncated"
    assert client.preferences.set("request-log", "complete").value == "complete"
    cleared = client.preferences.clear("request-log")
    assert cleared.value is None and cleared.source is None
    assert client.preferences.set_request_log_mode(None).value is None  # idempotent


def test_complete_mode_stores_the_whole_body_truncated_mode_a_preview(
    fresh_client: Any, service_id: Any
) -> None:
    client = fresh_client
    echo = service_id(client, "echo")
    stored = {}
    for mode in ("complete", "truncated"):
        client.preferences.set_request_log_mode(mode)
        marker = f"{mode}-{uuid.uuid4().hex[:8]}"
        client.dispatch(f"p/{echo}/{marker}", data=BIG)
        stored[mode] = _logged(client, marker).user_request.body
    assert stored["complete"] == BIG
    assert isinstance(stored["truncated"], str)
    assert len(stored["truncated"]) < len(BIG) and BIG.startswith(stored["truncated"])


def test_ai_and_notification_destinations(fresh_client: Any) -> None:
    client = fresh_client
    ai = client.preferences.set_ai("demo-small")
    assert isinstance(ai.value, PreferenceValue) and ai.value.service == "demo-small"
    assert ai.source == "account"
    note = client.preferences.set_notification("g/llm")
    assert isinstance(note.value, PreferenceValue)
    assert (note.value.service, note.value.gateway) == ("g/llm", "api")
    via_dict = client.preferences.set("ai", {"service": "demo-medium"})
    assert isinstance(via_dict.value, PreferenceValue) and via_dict.value.service == "demo-medium"
    with_gateway = client.preferences.set_notification("demo-small", gateway="api")
    assert isinstance(with_gateway.value, PreferenceValue)
    assert with_gateway.value.service == "demo-small"
    by_name = {p.name: p for p in client.preferences.list()}
    assert isinstance(by_name["ai"].value, PreferenceValue)
    assert by_name["ai"].value.service == "demo-medium"
    assert client.preferences.set_ai(None).value is None
    assert client.preferences.set("notification", None).value is None
    assert all(p.value is None for p in client.preferences.list())


@pytest.mark.parametrize(
    ("call", "field", "named"),
    [
        (lambda p: p.set_request_log_mode("full"), "mode", ["'truncated'", "'complete'"]),
        (lambda p: p.set("request-log", "verbose"), "mode", ["'truncated'", "'complete'"]),
        (lambda p: p.set("request-log", {"service": "x"}), "mode", ["'truncated'"]),
        (lambda p: p.set_ai(""), "service", ["non-empty"]),
        (lambda p: p.set_ai("demo-small", gateway="ftp"), "gateway", ["'api'", "'smtp'"]),
        (lambda p: p.set("ai", {"service": "demo-small", "colour": 1}), "value", ["colour"]),
        (lambda p: p.set("ai", 42), "value", ["string"]),
        (lambda p: p.get("Request Log"), "name", ["'request-log'"]),
    ],
)
def test_bad_local_arguments_raise_validation_error_naming_what_is_allowed(
    fresh_client: Any, call: Any, field: str, named: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        call(fresh_client.preferences)
    assert info.value.field == field
    for text in named:
        assert text in str(info.value)
    assert info.value.request_id is None  # refused before any request
    assert all(p.value is None for p in fresh_client.preferences.list())


def test_values_the_platform_refuses(fresh_client: Any) -> None:
    prefs = fresh_client.preferences
    with pytest.raises(ValidationError, match="enrollment"):
        prefs.set_ai("demo-byoe")  # callable only with an enrollment
    with pytest.raises(ValidationError, match="listed service"):
        prefs.set_ai("no-such-service")
    with pytest.raises(ValidationError, match="alias"):
        prefs.set_ai("a/nobody-" + uuid.uuid4().hex[:6])
    with pytest.raises(NotFoundError, match="request-log"):
        prefs.get("colour")
    assert all(p.value is None for p in prefs.list())

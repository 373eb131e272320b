"""Pure parts of the CLI: option parsing, settings provenance, error lines, stream printing."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer

from unitysvc.cli import _input
from unitysvc.cli._context import hoist_global_options, resolve_settings
from unitysvc.cli._dispatch import print_events, token_of
from unitysvc.cli._output import describe_error, emit
from unitysvc.exceptions import APIConnectionError, AuthenticationError, error_for_status

OURS = {"secrets", "groups", "dispatch", "env"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["secrets", "list", "--api-key", "K"], ["--api-key", "K", "secrets", "list"]),
        (["secrets", "list", "--api-key=K"], ["--api-key=K", "secrets", "list"]),
        (
            ["--base-url", "U", "env", "--json", "--debug"],
            ["--base-url", "U", "--debug", "env", "--json"],
        ),
        (["dispatch", "p/x", "--", "--api-key", "K"], ["dispatch", "p/x", "--", "--api-key", "K"]),
        (["server", "start", "--base-url", "U"], ["server", "start", "--base-url", "U"]),
        (["--api-key", "K", "groups", "list"], ["--api-key", "K", "groups", "list"]),
        ([], []),
    ],
)
def test_global_options_are_hoisted_only_for_our_commands(
    args: list[str], expected: list[str]
) -> None:
    assert hoist_global_options(args, OURS) == expected


def test_settings_record_where_each_value_came_from() -> None:
    env = {"UNITYSVC_API_KEY": "svcpass_env", "UNITYSVC_API_URL": "http://h:1/v1"}
    settings = resolve_settings(api_key="svcpass_flag", environ=env)
    assert (settings.api_key.value, settings.api_key.source) == ("svcpass_flag", "flag")
    assert (settings.base_url.value, settings.base_url.source) == ("http://h:1/v1", "env")
    assert settings.base_url.origin == "UNITYSVC_API_URL"
    assert (settings.api_base_url.value, settings.api_base_url.source) == ("http://h:1", "derived")
    assert settings.s3_base_url.source == "unset"

    defaults = resolve_settings(environ={"UNITYSVC_API_KEY": ""})
    assert defaults.api_key.source == "unset"  # an empty variable counts as unset
    assert (defaults.base_url.value, defaults.base_url.source) == (
        "https://api.unitysvc.com/v1",
        "default",
    )
    explicit = resolve_settings(api_base_url="http://gw", environ={"UNITYSVC_API_BASE_URL": "x"})
    assert (explicit.api_base_url.value, explicit.api_base_url.source) == ("http://gw", "flag")


def test_json_value_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"a": 1}')
    assert _input.json_value('{"a": 1}') == {"a": 1}
    assert _input.json_value(f"@{body}") == {"a": 1}
    assert _input.json_value(None) is None
    with pytest.raises(typer.BadParameter, match="not valid JSON"):
        _input.json_value("{nope")
    with pytest.raises(typer.BadParameter, match="cannot read"):
        _input.json_value(f"@{tmp_path / 'missing.json'}")
    with pytest.raises(typer.BadParameter, match="must be a JSON object"):
        _input.json_object("[1]", "--body")


def test_pairs_headers_and_data(tmp_path: Path) -> None:
    assert _input.pairs(["model=gpt-4", "n:=2", "flag:=true"], "--key") == {
        "model": "gpt-4",
        "n": 2,
        "flag": True,
    }
    assert _input.pairs(['{"model": "x"}', "extra=1"], "--key") == {"model": "x", "extra": "1"}
    assert _input.pairs(None, "--key") is None
    with pytest.raises(typer.BadParameter, match="expected key=value"):
        _input.pairs(["novalue"], "--key")
    assert _input.headers(["X-A: 1", "Accept:application/json"]) == {
        "X-A": "1",
        "Accept": "application/json",
    }
    with pytest.raises(typer.BadParameter, match="Name: value"):
        _input.headers(["nocolon"])
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"\x00\x01")
    assert _input.raw_data(f"@{raw}") == b"\x00\x01"
    assert _input.raw_data("text") == b"text"


def test_recurrence_sugar() -> None:
    assert _input.recurrence(None, 60, None, "UTC") == {
        "schedule_type": "interval",
        "interval_seconds": 60,
    }
    assert _input.recurrence(None, None, "*/5 * * * *", "Europe/Paris") == {
        "schedule_type": "cron",
        "cron_expression": "*/5 * * * *",
        "timezone": "Europe/Paris",
    }
    assert _input.recurrence(None, None, None, "UTC") is None
    with pytest.raises(typer.BadParameter, match="only one of"):
        _input.recurrence(None, 60, "* * * * *", "UTC")
    with pytest.raises(typer.BadParameter, match="positive"):
        _input.recurrence(None, 0, None, "UTC")
    with pytest.raises(typer.BadParameter, match="five cron fields"):
        _input.recurrence(None, None, "* *", "UTC")
    with pytest.raises(typer.BadParameter, match="schedule_type"):
        _input.recurrence('{"every": 5}', None, None, "UTC")


def test_point_in_time() -> None:
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert _input.point_in_time("15m", "--since", now=now) == now - timedelta(minutes=15)
    assert _input.point_in_time("2026-01-01T00:00:00", "--since") == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    with pytest.raises(typer.BadParameter, match="duration"):
        _input.point_in_time("yesterday", "--since")


def test_error_lines_name_status_reason_detail_and_request_id() -> None:
    error = error_for_status(404, b'{"detail": "Secret NOPE not found"}', request_id="req-123")
    assert describe_error(error) == "404 Not Found: Secret NOPE not found [request id req-123]"
    validation = error_for_status(
        422,
        json.dumps(
            {"detail": [{"loc": ["body", "name"], "msg": "too long", "type": "x"}]}
        ).encode(),
    )
    assert describe_error(validation).endswith(": name: too long")
    assert describe_error(validation).startswith("422 Unprocessable ")
    local = AuthenticationError("needs a key", status_code=401)
    assert "--api-key" in describe_error(local) and "UNITYSVC_API_KEY" in describe_error(local)
    assert describe_error(APIConnectionError("GET http://x failed")) == "GET http://x failed"


@dataclass
class Event:
    kind: str
    parsed: Any = None
    raw: bytes = b""
    text: str | None = None


def _chunk(content: str | None, **extra: Any) -> Event:
    delta = {} if content is None else {"content": content}
    return Event("sse", {"choices": [{"delta": delta, **extra}]})


def test_openai_chunks_print_tokens_only(capsys: pytest.CaptureFixture[str]) -> None:
    events = [
        _chunk(None, index=0),
        _chunk("Hel"),
        _chunk("lo"),
        Event("sse", {"choices": []}),
        Event("done"),
        _chunk("never printed"),
    ]
    print_events(events)
    assert capsys.readouterr().out == "Hello\n"
    assert token_of(Event("sse", {"choices": [{"text": "legacy"}]})) == "legacy"
    assert token_of(Event("sse", {"other": 1})) is None


def test_other_events_print_their_data_one_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    print_events(
        [
            Event("sse", {"status": "working"}),
            Event("sse", "plain text"),
            Event("ndjson", {"n": 1}),
            Event("line", text="a line"),
        ]
    )
    assert capsys.readouterr().out == '{"status": "working"}\nplain text\n{"n": 1}\na line\n'


@pytest.mark.parametrize("terminal", [True, False])
def test_dispatch_body_is_pretty_on_a_terminal_and_raw_when_piped(
    terminal: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    from unitysvc.cli import _dispatch

    monkeypatch.setattr(_dispatch, "stdout_is_terminal", lambda: terminal)
    response = httpx.Response(
        200, content=b'{"a":1,"b":[2]}', headers={"content-type": "application/json"}
    )
    _dispatch._print_body(response)
    out = capsys.readouterr().out
    if terminal:
        assert json.loads(out) == {"a": 1, "b": [2]} and "\n  " in out
    else:
        assert out == '{"a":1,"b":[2]}'


def test_emit_confirms_for_people_and_prints_only_json_for_programs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rendered: list[Any] = []
    emit({"id": 1}, True, rendered.append, done="Created 1")
    out, err = capsys.readouterr()
    assert json.loads(out) == {"id": 1} and "Created" not in err and rendered == []

    emit({"id": 1}, False, rendered.append, done="Created 1")
    out, err = capsys.readouterr()
    assert out == "" and "✓ Created 1" in err and rendered == [{"id": 1}]


def test_the_command_tree_loads_without_the_http_stack() -> None:
    # `usvc --help`, `usvc env` and `usvc server ...` send no SDK request: httpx (and its
    # CLI's rich console, click and pygments) is imported by the commands that do.
    code = (
        "import sys\n"
        "import unitysvc.cli\n"
        "print(' '.join(m for m in ('httpx', 'unitysvc._core') if m in sys.modules) or 'none')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "none"

"""``usvc`` commands on the customer's own resources, against a real platform."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def echo_id(usvc: Any) -> str:
    rows = usvc.json("groups", "services", "all_services", "--search", "echo", "--all")
    return next(r["id"] for r in rows if r["name"].split("/")[-1] == "echo")


def _name() -> str:
    return "CLI_" + uuid.uuid4().hex[:8].upper()


# -- secrets -----------------------------------------------------------------------------


def test_secret_set_never_echoes_the_value(usvc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    name, value = _name(), "sk-flag-" + uuid.uuid4().hex
    result = usvc.ok("secrets", "set", name, "--value", value)
    assert value not in result.output
    assert name in result.stderr
    shown = usvc.json("secrets", "show", name)
    assert (shown["name"], shown["sensitive"], shown.get("value")) == (name, True, None)

    piped = "sk-stdin-" + uuid.uuid4().hex
    result = usvc.ok("secrets", "set", name, input=piped + "\n")
    assert piped not in result.output
    from_env = "sk-env-" + uuid.uuid4().hex
    result = usvc.ok("secrets", "set", name, "--from-env", "MY_KEY", env={"MY_KEY": from_env})
    assert from_env not in result.output
    as_json = usvc.json("secrets", "set", name, "--value", value)
    assert as_json["name"] == name and value not in json.dumps(as_json)

    listed = usvc.ok("secrets", "list")
    assert name in listed.stdout
    for secret in (value, piped, from_env):
        assert secret not in listed.output
    assert "is not set" in usvc("secrets", "set", name, "--from-env", "UNSET_VAR_X").stderr


def test_variables_are_readable(usvc: Any) -> None:
    name = _name()
    usvc.ok("secrets", "set", name, "--value", "me@example.com", "--variable")
    rows = {row["name"]: row for row in usvc.json("secrets", "list")}
    assert rows[name]["sensitive"] is False
    assert rows[name]["value"] == "me@example.com"


def test_secret_delete_and_unknown_secret(usvc: Any) -> None:
    name = _name()
    usvc.ok("secrets", "set", name, "--value", "x")
    usvc.ok("secrets", "delete", name, "--yes")
    line = usvc.fails("secrets", "show", name)
    assert line.startswith("error: 404 Not Found") and "[request id " in line
    assert name not in {row["name"] for row in usvc.json("secrets", "list")}


def test_upload_dotenv(usvc: Any, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# Shared settings, not a description (blank line follows)\n"
        "\n"
        f"# Key for the upstream.\n"
        f"export UP_KEY_{suffix}='sk-single-quoted'\n"
        f'MULTI_{suffix}="line one\nline two"\n'
        f"EMAIL_{suffix}=me@example.com  # variable\n"
        f"FROM_ENV_{suffix}=${{SOURCE_VALUE}}\n"
    )
    dry = usvc.json("secrets", "upload", str(env_file), "--dry-run", env={"SOURCE_VALUE": "v"})
    assert [row["status"] for row in dry] == ["would set"] * 4
    names = {row["name"] for row in usvc.json("secrets", "list")}
    assert f"UP_KEY_{suffix}" not in names  # a dry run sends nothing

    result = usvc.ok("secrets", "upload", str(env_file), env={"SOURCE_VALUE": "from-env-value"})
    for value in ("sk-single-quoted", "line one", "from-env-value"):
        assert value not in result.output
    rows = {row["name"]: row for row in usvc.json("secrets", "list")}
    assert rows[f"UP_KEY_{suffix}"]["description"] == "Key for the upstream."
    assert rows[f"UP_KEY_{suffix}"]["sensitive"] is True
    assert rows[f"EMAIL_{suffix}"]["sensitive"] is False
    assert rows[f"EMAIL_{suffix}"]["value"] == "me@example.com"
    assert {f"MULTI_{suffix}", f"FROM_ENV_{suffix}"} <= set(rows)


def test_upload_checks_every_name_before_sending(usvc: Any, tmp_path: Path) -> None:
    good = _name()
    env_file = tmp_path / "bad.env"
    env_file.write_text(f"{good}=1\nlower_case=2\n")
    result = usvc("secrets", "upload", str(env_file))
    assert result.exit_code == 2
    assert "lower_case" in result.stderr and "line 2" in result.stderr
    assert good not in {row["name"] for row in usvc.json("secrets", "list")}
    missing = tmp_path / "missing.env"
    missing.write_text("A=${NOT_EXPORTED_ANYWHERE}\n")
    assert usvc("secrets", "upload", str(missing)).exit_code == 2


# -- enrollments ---------------------------------------------------------------------------


def test_enrollment_create_wait_show_list_cancel(usvc: Any, echo_id: str) -> None:
    rows = usvc.json("groups", "services", "all_services", "--search", "demo-byoe", "--all")
    byoe = next(r["id"] for r in rows if r["name"].split("/")[-1] == "demo-byoe")
    upstream = usvc.json("services", "interfaces", echo_id)[0]["base_url"]
    created = usvc.json("enrollments", "create", byoe, "-P", f"base_url={upstream}")
    assert created["status"] == "pending"
    waited = usvc.ok("enrollments", "wait", created["id"], "--timeout", "20")
    assert "active" in waited.stdout and "is active" in waited.stderr
    shown = usvc.json("enrollments", "show", created["id"])
    assert shown["status"] == "active" and shown["service_id"] == byoe
    assert created["id"] in {row["id"] for row in usvc.json("enrollments", "list")}
    cancelled = usvc.json("enrollments", "cancel", created["id"], "--yes")
    assert cancelled["status"] == "cancelled"
    unknown = str(uuid.uuid4())
    assert usvc.fails("enrollments", "show", unknown).startswith("error: 404 Not Found")


def test_waiting_for_an_enrollment_that_cannot_activate_exits_1(usvc: Any, platform: Any) -> None:
    rows = usvc.json("groups", "services", "all_services", "--search", "demo-byoe", "--all")
    byoe = next(r["id"] for r in rows if r["name"].split("/")[-1] == "demo-byoe")
    # A customer of its own: re-enrolling would reuse another test's parameters.
    fresh = {"UNITYSVC_API_KEY": platform.create_customer("cli-incomplete")}
    result = usvc("enrollments", "create", byoe, "--wait", "--timeout", "20", "--json", env=fresh)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "incomplete"  # base_url is missing
    assert "ended incomplete, not active" in result.stderr
    usvc.ok("enrollments", "cancel", json.loads(result.stdout)["id"], "--yes", env=fresh)


# -- aliases -------------------------------------------------------------------------------


def test_alias_lifecycle(usvc: Any) -> None:
    name = "cli-" + uuid.uuid4().hex[:8]
    first = usvc.json("aliases", "create", name, "g/llm", "--override", "model=demo-small")
    assert first["is_routing"] is True
    assert first["routing_key_override"] == {"model": "demo-small"}
    second = usvc.json("aliases", "create", name, "g/all_services", "--no-routing")
    assert second["is_routing"] is False
    switched = usvc.json("aliases", "switch", second["id"])
    assert switched["alias"]["id"] == second["id"] and switched["demoted_alias_id"] == first["id"]
    listed = usvc.json("aliases", "list", "--name", name)
    assert {row["id"] for row in listed} == {first["id"], second["id"]}
    assert usvc.json("aliases", "show", first["id"])["is_routing"] is False
    updated = usvc.json("aliases", "update", first["id"], "--description", "old route")
    assert updated["description"] == "old route"
    assert name in usvc.ok("aliases", "list").stdout
    usvc.ok("aliases", "delete", first["id"], "--yes")
    assert {row["id"] for row in usvc.json("aliases", "list", "--name", name)} == {second["id"]}
    line = usvc.fails("aliases", "create", "Bad Name!", "g/llm")
    assert "name" in line and line.startswith("error: 4")


# -- recurrent requests --------------------------------------------------------------------


def test_recurrent_request_lifecycle(usvc: Any, echo_id: str) -> None:
    created = usvc.json("recurrent-requests", "create", f"p/{echo_id}", "--name", "nightly")
    assert created["status"] == "draft" and created["name"] == "nightly"
    rid = created["id"]
    active = usvc.json("recurrent-requests", "update", rid, "--interval", "3600")
    assert active["status"] == "active"
    assert rid in {row["id"] for row in usvc.json("recurrent-requests", "list")}
    assert "every 3600s" in usvc.ok("recurrent-requests", "list").stdout
    assert usvc.json("recurrent-requests", "show", rid)["schedule"]["interval_seconds"] == 3600
    triggered = usvc.ok("recurrent-requests", "trigger", rid)
    json.loads(triggered.stdout)  # the upstream's answer, as JSON
    paused = usvc.json("recurrent-requests", "update", rid, "--status", "paused")
    assert paused["status"] == "paused"
    usvc.ok("recurrent-requests", "delete", rid, "--yes")
    assert usvc.fails("recurrent-requests", "show", rid).startswith("error: 404 Not Found")
    scheduled = usvc.json(
        "recurrent-requests", "create", f"p/{echo_id}", "--cron", "0 * * * *", "--body", "{}"
    )
    assert scheduled["status"] == "active"
    assert scheduled["schedule"]["cron_expression"] == "0 * * * *"
    usvc.ok("recurrent-requests", "delete", scheduled["id"], "--yes")


# -- request logs --------------------------------------------------------------------------


def _wait_for_row(usvc: Any, marker: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = [
            r
            for r in usvc.json("request-logs", "list", "--limit", "200")
            if marker in r["user_request_path"]
        ]
        if rows:
            return rows[0]
        time.sleep(0.1)
    raise AssertionError(f"no request-log row for {marker}")


def test_request_logs_start_list_show_stop(usvc: Any, echo_id: str) -> None:
    assert usvc.json("request-logs", "start")["enabled"] is True
    marker = "mark-" + uuid.uuid4().hex[:8]
    usvc.ok("dispatch", f"p/{echo_id}/{marker}", "--data", '{"m": 1}')
    row = _wait_for_row(usvc, marker)
    detail = usvc.json("request-logs", "show", row["log_id"])
    assert detail["log_id"] == row["log_id"] and marker in detail["user_request"]["path"]
    assert row["log_id"] in usvc.ok("request-logs", "list", "--since", "1h").stdout
    assert usvc.fails("request-logs", "show", str(uuid.uuid4())).startswith("error: 404")
    assert usvc.json("request-logs", "stop")["enabled"] is False


def test_tail_shows_recent_rows_and_follows_new_ones(
    usvc: Any, platform: Any, api_key: str, echo_id: str
) -> None:
    usvc.ok("request-logs", "start")
    first = "tail-a-" + uuid.uuid4().hex[:6]
    usvc.ok("dispatch", f"p/{echo_id}/{first}", "--data", "{}")
    _wait_for_row(usvc, first)
    recent = usvc.ok("request-logs", "tail", "-n", "1", "--json").stdout.splitlines()
    assert len(recent) == 1 and first in json.loads(recent[0])["user_request_path"]

    second = "tail-b-" + uuid.uuid4().hex[:6]

    def later() -> None:
        time.sleep(0.5)
        with platform.client(api_key) as sdk:
            sdk.dispatch(f"p/{echo_id}/{second}", json={})

    thread = threading.Thread(target=later)
    thread.start()
    started = time.monotonic()
    followed = usvc.ok(
        "request-logs",
        "tail",
        "-f",
        "-n",
        "0",
        "--json",
        "--interval",
        "0.2",
        "--max-rows",
        "1",
        "--timeout",
        "20",
    )
    thread.join()
    lines = followed.stdout.splitlines()
    assert len(lines) == 1 and second in json.loads(lines[0])["user_request_path"]
    assert time.monotonic() - started < 20

    started = time.monotonic()
    quiet = usvc.ok(
        "request-logs", "tail", "-f", "-n", "0", "--interval", "0.1", "--timeout", "0.5"
    )
    assert quiet.stdout == ""
    assert time.monotonic() - started < 5
    usvc.ok("request-logs", "stop")


def test_tail_follow_ends_cleanly_on_ctrl_c(usvc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from unitysvc.cli import request_logs

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(request_logs.time, "sleep", interrupted)
    result = usvc("request-logs", "tail", "-f", "-n", "0")
    assert result.exit_code == 0 and result.stderr == ""


def test_an_empty_secret_value_is_refused_unless_allowed(usvc: Any) -> None:
    name = _name()
    for args, kw in (
        ((), {"input": ""}),  # usvc secrets set NAME </dev/null
        (("--value", ""), {}),
        (("--from-env", "EMPTY_VAR"), {"env": {"EMPTY_VAR": ""}}),
    ):
        result = usvc("secrets", "set", name, *args, **kw)
        assert result.exit_code == 2, (args, result.output)
        assert "is empty; nothing was stored" in result.stderr
        assert "--allow-empty" in result.stderr
    assert usvc("secrets", "show", name).exit_code == 1  # nothing half-written
    usvc.ok("secrets", "set", name, "--allow-empty", input="")
    assert usvc.json("secrets", "show", name)["name"] == name

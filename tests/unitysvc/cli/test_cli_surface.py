"""The CLI surface without a platform: help, usage errors, completion, lazy commands."""

from __future__ import annotations

import os
from typing import Any

import pytest

COMMANDS = {
    "groups": [
        "list",
        "show",
        "services",
        "create",
        "update",
        "delete",
        "members",
        "add-member",
        "remove-member",
        "dispatch",
    ],
    "services": ["show", "interfaces", "dispatch", "stream", "schedule", "enroll"],
    "enrollments": ["list", "show", "create", "cancel", "wait"],
    "secrets": ["list", "show", "set", "delete", "upload"],
    "aliases": ["list", "show", "create", "update", "switch", "delete"],
    "recurrent-requests": ["list", "show", "create", "update", "trigger", "delete"],
    "request-logs": ["start", "stop", "list", "show", "tail"],
}
TOP_LEVEL = ["env", "resolve", "dispatch"]
ALL = [[name] for name in TOP_LEVEL] + [
    [group, sub] for group, subs in COMMANDS.items() for sub in subs
]


def test_root_help_lists_every_group(usvc_offline: Any) -> None:
    out = usvc_offline.ok("--help").stdout
    for name in [*COMMANDS, *TOP_LEVEL, "server"]:
        assert name in out
    assert "--api-key" in out and "--base-url" in out and "--api-base-url" in out


@pytest.mark.parametrize("command", ALL, ids=" ".join)
def test_every_command_has_help_with_an_example(usvc_offline: Any, command: list[str]) -> None:
    out = usvc_offline.ok(*command, "--help").stdout
    assert "Usage: usvc " + " ".join(command) in out
    assert "Examples" in out
    assert f"$ usvc {command[0]}" in out or "| usvc" in out


@pytest.mark.parametrize("group", list(COMMANDS))
def test_groups_list_their_commands(usvc_offline: Any, group: str) -> None:
    out = usvc_offline.ok(group, "--help").stdout
    for sub in COMMANDS[group]:
        assert sub in out
    assert "Examples" in out and f"$ usvc {group}" in out


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["secrets", "show"],  # missing argument
        ["groups", "list", "--owner", "everyone"],
        ["groups", "services", "llm", "--limit", "0"],
        ["dispatch", "g/llm", "--json", "{}"],  # --json is the output format, takes no value
        ["dispatch", "g/llm", "--data", "{}", "--data-file", "x"],
        ["dispatch", "g/llm", "--data-file", "/no/such/body.json"],
        ["dispatch", "g/llm", "--cache", "10 minutes"],
        ["dispatch", "g/llm", "--failover", "https://example.com/x"],
        ["dispatch", "g/llm", "-H", "no-colon"],
        ["resolve", "g/llm", "--key", "novalue"],
        ["services", "schedule", "abc"],  # no schedule given
        ["services", "schedule", "abc", "--interval", "5", "--cron", "* * * * *"],
        ["secrets", "set", "lower_case", "--value", "x"],
        ["secrets", "set", "OK_NAME", "--value", "x", "--from-env", "Y"],
        ["secrets", "upload", "/no/such/file.env"],
        ["request-logs", "list", "--since", "yesterday"],
        ["request-logs", "tail", "--service-id", "not-a-uuid"],
        ["groups", "update", "some-id"],  # nothing to change
    ],
    ids=lambda args: " ".join(args),
)
def test_bad_usage_exits_2_before_any_request(usvc_offline: Any, args: list[str]) -> None:
    # No platform and no key: reaching the network would fail differently (exit 1).
    result = usvc_offline(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)


def test_invalid_key_is_a_usage_error_naming_its_source(usvc_offline: Any) -> None:
    result = usvc_offline("secrets", "list", env={"UNITYSVC_API_KEY": "sk-not-ours"})
    assert result.exit_code == 2
    assert "UNITYSVC_API_KEY" in result.stderr and "svcpass_" in result.stderr


def test_commands_needing_a_key_say_how_to_pass_one(usvc_offline: Any) -> None:
    line = usvc_offline.fails("secrets", "list")
    assert "--api-key" in line and "UNITYSVC_API_KEY" in line


def test_unreachable_platform_is_one_error_line(usvc_offline: Any) -> None:
    line = usvc_offline.fails("--base-url", "http://127.0.0.1:9/v1", "groups", "list")
    assert "127.0.0.1:9" in line


def test_env_shows_each_setting_and_its_source(usvc_offline: Any) -> None:
    env = {"UNITYSVC_API_KEY": "svcpass_0123456789abcdef", "UNITYSVC_API_URL": "http://h:1/v1"}
    data = usvc_offline.json("env", env=env)
    assert data["api_key"] == {
        "value": "svcpass_0123…",
        "source": "env",
        "origin": "UNITYSVC_API_KEY",
        "env": "UNITYSVC_API_KEY",
    }
    assert (data["base_url"]["value"], data["base_url"]["source"]) == ("http://h:1/v1", "env")
    assert (data["api_base_url"]["value"], data["api_base_url"]["source"]) == (
        "http://h:1",
        "derived",
    )
    assert data["s3_base_url"]["source"] == "unset"

    flagged = usvc_offline.json("env", "--base-url", "http://flag/v1", env=env)
    assert flagged["base_url"] == {
        "value": "http://flag/v1",
        "source": "flag",
        "origin": "--base-url",
        "env": "UNITYSVC_API_URL",
    }
    table = usvc_offline.ok("env", env=env).stdout
    assert "env $UNITYSVC_API_KEY" in table and "derived" in table
    assert "0123456789abcdef" not in table  # the key by prefix only


def test_env_defaults(usvc_offline: Any) -> None:
    data = usvc_offline.json("env")
    assert data["api_key"]["source"] == "unset" and data["api_key"]["value"] is None
    assert data["base_url"] == {
        "value": "https://api.unitysvc.com/v1",
        "source": "default",
        "origin": None,
        "env": "UNITYSVC_API_URL",
    }


def test_version(usvc_offline: Any) -> None:
    from unitysvc import __version__

    assert __version__ in usvc_offline.ok("--version").stdout


def test_shell_completion_script_is_generated(usvc_offline: Any) -> None:
    # What ``usvc --show-completion`` prints once it has detected the shell from the
    # parent process (which differs between a terminal and CI), asked for directly.
    result = usvc_offline.ok(env={"_USVC_COMPLETE": "source_bash"})
    assert "_USVC_COMPLETE" in result.stdout
    assert "complete" in result.stdout


def test_completion_of_command_names_and_options(usvc_offline: Any) -> None:
    words = usvc_offline(
        env={"_USVC_COMPLETE": "complete_bash", "COMP_WORDS": "usvc sec", "COMP_CWORD": "1"}
    ).stdout.split()
    assert "secrets" in words
    options = usvc_offline(
        env={
            "_USVC_COMPLETE": "complete_bash",
            "COMP_WORDS": "usvc dispatch g/llm --ca",
            "COMP_CWORD": "3",
        }
    ).stdout.split()
    assert "--cache" in options


def test_server_is_mounted_lazily_and_runs(usvc_offline: Any, tmp_path: Any) -> None:
    out = usvc_offline.ok("server", "--help").stdout
    assert "start" in out and "keys" in out
    created = usvc_offline.ok(
        "server", "keys", "create", "--name", "bob", "--data-dir", str(tmp_path)
    )
    key = created.stdout.strip()
    assert key.startswith("svcpass_")
    listed = usvc_offline.json("server", "keys", "list", "--data-dir", str(tmp_path))
    assert [row["customer"] for row in listed] == ["bob"]


def test_server_without_the_extra_says_what_to_install(
    usvc_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    # A ``None`` entry makes ``import unitysvc_server.cli`` raise ImportError, as it
    # does when the server dependencies are not installed.
    monkeypatch.setitem(sys.modules, "unitysvc_server.cli", None)
    assert "server" in usvc_offline.ok("--help").stdout
    line = usvc_offline.fails("server", "start")
    assert 'pip install "unitysvc[server]"' in line


def _path_plugin(tmp_path: Any, name: str, record: Any) -> dict[str, str]:
    script = tmp_path / f"usvc-{name}"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\nexit 7\n')
    script.chmod(0o755)
    return {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}


def test_path_plugins_are_listed_and_run_with_their_arguments(
    usvc_offline: Any, tmp_path: Any
) -> None:
    record = tmp_path / "args.txt"
    env = _path_plugin(tmp_path, "hello", record)
    assert "hello" in usvc_offline.ok("--help", env=env).stdout
    result = usvc_offline("hello", "a b", "--flag", "--help", env=env)
    assert result.exit_code == 7
    assert record.read_text().splitlines() == ["a b", "--flag", "--help"]
    hidden = usvc_offline.ok("--help", env={**env, "USVC_NO_PLUGINS": "1"}).stdout
    assert "hello" not in hidden
    assert usvc_offline("hello", env={**env, "USVC_NO_PLUGINS": "1"}).exit_code == 2


def test_builtin_commands_win_over_plugins(usvc_offline: Any, tmp_path: Any) -> None:
    record = tmp_path / "args.txt"
    env = _path_plugin(tmp_path, "env", record)
    assert usvc_offline.json("env", env=env)["base_url"]["source"] == "default"
    assert not record.exists()


def test_demo_slot_mounts_a_typer_app_when_its_module_exists(
    usvc_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types
    from importlib.machinery import ModuleSpec

    import typer

    demo = types.ModuleType("unitysvc.cli.demo")
    demo.__spec__ = ModuleSpec("unitysvc.cli.demo", None)
    demo.app = typer.Typer()

    @demo.app.command()
    def run(keep: bool = typer.Option(False, "--keep")) -> None:
        typer.echo(f"demo keep={keep}")

    monkeypatch.setitem(sys.modules, "unitysvc.cli.demo", demo)
    assert "demo" in usvc_offline.ok("--help").stdout
    assert usvc_offline.ok("demo", "--keep").stdout == "demo keep=True\n"


def test_console_script_entry_point() -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("usvc")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("usvc (unitysvc) ")


def test_server_down_is_one_line_with_the_url_retries_and_how_to_start(
    usvc_offline: Any,
) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "UNITYSVC_API_KEY": "svcpass_" + "d" * 32,
        "UNITYSVC_API_URL": f"http://127.0.0.1:{port}/v1",
    }
    line = usvc_offline.fails("secrets", "list", env=env)
    assert f"http://127.0.0.1:{port}/v1/secrets/" in line
    assert "connection refused" in line and "tried 3 times" in line
    assert "usvc server start" in line and "UNITYSVC_API_URL" in line
    assert "Errno" not in line


def _command_paths() -> list[list[str]]:
    import typer

    from unitysvc.cli import app

    def walk(command: Any, path: list[str]) -> list[list[str]]:
        found = [path]
        if hasattr(command, "list_commands"):
            ctx = typer.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    found += walk(sub, [*path, name])
        return found

    # ``usvc server`` is loaded lazily: walk its own app under its name.
    from unitysvc_server.cli import server_app

    server = walk(typer.main.get_command(server_app), ["server"])
    return walk(typer.main.get_command(app), []) + server[1:]


def test_every_help_reads_whole_in_80_columns(usvc_offline: Any) -> None:
    paths = _command_paths()
    assert ["server", "start"] in paths
    for path in paths:
        result = usvc_offline(*path, "--help", env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
        assert result.exit_code == 0, path
        for line in result.stdout.splitlines():
            assert len(line) <= 80, (path, line)
            # Rich cuts what does not fit with "…"; our own metavar svcpass_… is no cut.
            assert "…" not in line.replace("svcpass_…", ""), (path, line)

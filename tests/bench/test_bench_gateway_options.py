"""``bench/bench_gateway.py`` finds LiteLLM and Portkey from its arguments, the environment
or its own install, never from a path of one machine; bad options are refused by name."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
BENCH = BENCH_DIR / "bench_gateway.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    # The bench imports its sibling modules as a script run from bench/ would.
    sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location("bench_gateway", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_gateway"] = module
    spec.loader.exec_module(module)
    return module


def _executable(path: Path) -> str:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_no_machine_specific_default(bench: ModuleType, tmp_path: Path) -> None:
    for source in BENCH_DIR.glob("*.py"):
        assert "/work/" not in source.read_text(), source
    path, why = bench.litellm_executable(None, {"PATH": ""}, installed=tmp_path / "none")
    assert path is None and "UNITYSVC_BENCH_LITELLM" in why and "--litellm" in why
    assert "--install" in why


def test_argument_then_environment_then_own_venv_then_path(
    bench: ModuleType, tmp_path: Path
) -> None:
    given = _executable(tmp_path / "given")
    from_env = _executable(tmp_path / "from-env")
    (tmp_path / "venv").mkdir()
    own = tmp_path / "venv" / "litellm"
    (tmp_path / "bin").mkdir()
    on_path = _executable(tmp_path / "bin" / "litellm")
    env = {"UNITYSVC_BENCH_LITELLM": from_env, "PATH": str(tmp_path / "bin")}
    find = bench.litellm_executable
    assert find(given, env, installed=own) == (given, "")
    assert find(None, env, installed=own) == (from_env, "")
    path_only = {"PATH": str(tmp_path / "bin")}
    assert find(None, path_only, installed=own) == (on_path, "")
    _executable(own)
    assert find(None, path_only, installed=own) == (str(own), "")
    skipped, why = find("", env, installed=own)
    assert skipped is None and "--litellm is empty" in why
    missing, why = find(None, {"UNITYSVC_BENCH_LITELLM": "/no/such/litellm"}, installed=own)
    assert missing is None and "$UNITYSVC_BENCH_LITELLM names /no/such/litellm" in why
    assert os.path.isfile(given)


def test_portkey_argument_then_environment_then_bench_install(
    bench: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "bin").mkdir()
    _executable(tmp_path / "bin" / "node")
    with_node = {"PATH": str(tmp_path / "bin")}
    given = tmp_path / "given.js"
    given.write_text("")
    from_env = tmp_path / "env.js"
    from_env.write_text("")
    installed = tmp_path / "start-server.js"
    find = bench.portkey_entry
    env = {**with_node, "UNITYSVC_BENCH_PORTKEY": str(from_env)}
    assert find(str(given), env, installed=installed) == (str(given), "")
    assert find(None, env, installed=installed) == (str(from_env), "")
    path, why = find(None, with_node, installed=installed)
    assert path is None and "npm ci --ignore-scripts --prefix bench/portkey" in why
    installed.write_text("")
    assert find(None, with_node, installed=installed) == (str(installed), "")
    skipped, why = find("", env, installed=installed)
    assert skipped is None and "--portkey is empty" in why
    missing, why = find(None, {**with_node, "UNITYSVC_BENCH_PORTKEY": "/no/such.js"})
    assert missing is None and "$UNITYSVC_BENCH_PORTKEY names /no/such.js" in why
    no_node, why = find(str(given), {"PATH": str(tmp_path / "empty")}, installed=installed)
    assert no_node is None and "no node on PATH" in why


def test_the_lockfile_pins_portkey_and_the_node_server_that_streams(bench: ModuleType) -> None:
    import json

    lock = json.loads((BENCH_DIR / "portkey" / "package-lock.json").read_text())
    packages = lock["packages"]
    assert packages["node_modules/@portkey-ai/gateway"]["version"] == "1.15.2"
    # From 1.14.2 on, Portkey's streamed replies fail (see bench/_competitors.py).
    assert packages["node_modules/@hono/node-server"]["version"] == "1.13.5"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "0"], "--duration: at least 1"),
        (["--ttfb-runs", "0"], "--ttfb-runs: at least 1"),
        (["--duration", "soon"], "argument --duration: invalid int value: 'soon'"),
    ],
)
def test_bad_options_are_refused_by_name(
    bench: ModuleType, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_defaults(bench: ModuleType) -> None:
    args = bench.parse_args([])
    assert (args.duration, args.ttfb_runs, args.install) == (10, 500, False)
    assert args.portkey is None and args.litellm is None


def test_metrics_option_starts_the_gateway_with_metrics_on(bench: ModuleType) -> None:
    assert bench.parse_args([]).metrics is False
    assert bench.parse_args(["--metrics"]).metrics is True

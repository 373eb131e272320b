"""``bench/bench_gateway.py`` finds LiteLLM from its argument or the environment, never
from a path of one machine."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_gateway.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
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


def test_no_machine_specific_default(bench: ModuleType) -> None:
    assert "/work/" not in BENCH.read_text()
    path, why = bench.litellm_executable(None, {"PATH": ""})
    assert path is None and "UNITYSVC_BENCH_LITELLM" in why and "--litellm" in why


def test_argument_then_environment_then_path(bench: ModuleType, tmp_path: Path) -> None:
    given = _executable(tmp_path / "given")
    from_env = _executable(tmp_path / "from-env")
    (tmp_path / "bin").mkdir()
    on_path = _executable(tmp_path / "bin" / "litellm")
    env = {"UNITYSVC_BENCH_LITELLM": from_env, "PATH": str(tmp_path / "bin")}
    assert bench.litellm_executable(given, env) == (given, "")
    assert bench.litellm_executable(None, env) == (from_env, "")
    assert bench.litellm_executable(None, {"PATH": str(tmp_path / "bin")}) == (on_path, "")
    skipped, why = bench.litellm_executable("", env)
    assert skipped is None and "--litellm is empty" in why
    missing, why = bench.litellm_executable(None, {"UNITYSVC_BENCH_LITELLM": "/no/such/litellm"})
    assert missing is None and "$UNITYSVC_BENCH_LITELLM names /no/such/litellm" in why
    assert os.path.isfile(given)

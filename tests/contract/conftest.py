"""Fixtures of the contract tests: the official SDK releases, a platform, scenario runs.

The official ``unitysvc-py`` imports as ``unitysvc``, like our SDK, so it runs in a
subprocess: ``scripts/install_official_sdks.py`` installs each release into
``.cache/official-sdks/<version>`` (once; it needs PyPI the first time), and
:func:`run_scenario` runs ``scenarios.py <name>`` with ``PYTHONPATH`` set to that
directory. The scenario checks that it imported the official package, drives our
platform through the official SDK, and prints what it saw as one JSON object; the test
asserts on that.

Every test gets fresh customers, so tests are independent (and safe under
pytest-xdist: each worker has its own platform). The installs happen once per machine:
the test session starts the installer before the workers collect (``tests/conftest.py``)
and the workers' runs of it wait for that one and find the releases installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from official_sdk import VERSIONS, Scenario

from unitysvc_server.testing import LocalPlatform

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "scripts" / "install_official_sdks.py"
SCENARIOS = Path(__file__).with_name("scenarios.py")
SCENARIO_TIMEOUT = 120


@pytest.fixture(scope="session")
def official_sdks() -> dict[str, Path]:
    """Install directory of each official release (installed on first use)."""
    done = subprocess.run(
        [sys.executable, str(INSTALLER), *VERSIONS],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"installing the official SDKs failed:\n{done.stderr}"
    found: dict[str, Path] = {}
    for line in done.stdout.splitlines():
        version, _, where = line.partition(" ")
        found[version] = Path(where)
    assert set(found) == set(VERSIONS), done.stdout
    return found


@pytest.fixture(scope="session")
def platform() -> Iterator[LocalPlatform]:
    """One platform (demo catalog) for the session's contract tests."""
    with LocalPlatform(demo=True) as running:
        yield running


@pytest.fixture
def new_key(platform: LocalPlatform) -> Callable[[], str]:
    """Makes the key of a fresh customer."""
    return lambda: platform.create_customer(f"contract-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def run_scenario(official_sdks: dict[str, Path], platform: LocalPlatform) -> Scenario:
    """Run one scenario with one official release; returns what it printed.

    ``run_scenario(version, name, key, **env)``: extra keyword arguments become
    ``SCENARIO_<NAME>`` environment variables of the subprocess.
    """

    def run(version: str, name: str, key: str, **env: str) -> dict[str, Any]:
        sdk = official_sdks[version]
        environ = {
            key_: value for key_, value in os.environ.items() if not key_.startswith("UNITYSVC_")
        }
        environ.update(
            PYTHONPATH=str(sdk),
            PYTHONDONTWRITEBYTECODE="1",
            OFFICIAL_SDK_DIR=str(sdk),
            OFFICIAL_SDK_VERSION=version,
            UNITYSVC_API_URL=platform.api_url,
            UNITYSVC_API_KEY=key,
            **{f"SCENARIO_{k.upper()}": v for k, v in env.items()},
        )
        done = subprocess.run(
            [sys.executable, "-B", str(SCENARIOS), name],
            capture_output=True,
            text=True,
            env=environ,
            timeout=SCENARIO_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, (
            f"scenario {name} with unitysvc-py {version} failed:\n{done.stderr[-6000:]}"
        )
        lines = done.stdout.strip().splitlines()
        assert lines, f"scenario {name} printed nothing; stderr:\n{done.stderr[-3000:]}"
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    return run

"""Every public name of the official SDK's clients exists on ours, sync and async.

The official surface is read from the installed release by introspection
(``official_surface.py``, in a subprocess: the official package also imports as
``unitysvc``): the clients' attributes, each resource's methods, the records and pages
those methods return and the wrapped target of the gateway wrappers. Ours may have
more; it may not have less. What the names *do* is asserted by the SDK's integration
tests against a real platform (``tests/unitysvc/integration``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from official_sdk import VERSIONS

import unitysvc
from unitysvc._gateway import AsyncWrappedTarget, SyncWrappedTarget

SCRIPT = Path(__file__).with_name("official_surface.py")
KEY = "svcpass_" + "s" * 32


def official_surface(sdk: Path, version: str) -> dict[str, Any]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("UNITYSVC_")}
    environ.update(
        PYTHONPATH=str(sdk),
        PYTHONDONTWRITEBYTECODE="1",
        OFFICIAL_SDK_DIR=str(sdk),
        OFFICIAL_SDK_VERSION=version,
    )
    done = subprocess.run(
        [sys.executable, "-B", str(SCRIPT)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=SCRIPT.parent,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module", params=VERSIONS)
def surface(request: pytest.FixtureRequest, official_sdks: dict[str, Path]) -> dict[str, Any]:
    return official_surface(official_sdks[request.param], request.param)


def _our_class(module: str, name: str) -> type | None:
    """Our class of an official record or page name (one class serves both flavours
    where the official SDK has two, e.g. its ``AsyncChainListPage``)."""
    loaded = sys.modules[module]
    found = getattr(loaded, name, None) or getattr(loaded, name.removeprefix("Async"), None)
    return found if isinstance(found, type) else None


def missing_names(official: dict[str, Any], sync_official: dict[str, Any], ours: Any) -> list[str]:
    """Official names (``Client.x``, ``Client.services.get``, ``Service.enroll`` ...)
    that ``ours`` (a client instance) lacks."""
    label = type(ours).__name__
    missing = [f"{label}.{name}" for name in official["members"] if not hasattr(ours, name)]
    for resource_name, resource in official["resources"].items():
        mine = getattr(ours, resource_name, None)
        if mine is None:
            continue  # reported above
        where = f"{label}.{resource_name}"
        missing += [f"{where}.{m}" for m in resource["methods"] if not hasattr(mine, m)]
        # The official async records lost methods their sync twins have (hand-written
        # twins drifted); ours are built from one definition, so both must have all.
        records = dict(resource["records"])
        for name, members in sync_official["resources"][resource_name]["records"].items():
            async_name = f"Async{name}" if label.startswith("Async") else name
            records[async_name] = {**members, **records.get(async_name, {})}
        for name, members in records.items():
            cls = _our_class(type(mine).__module__, name)
            if cls is None:
                missing.append(f"{type(mine).__module__}.{name}")
                continue
            missing += [f"{name}.{m}" for m in members if not hasattr(cls, m)]
    return missing


def test_the_official_surface_was_read(surface: dict[str, Any]) -> None:
    client = surface["Client"]
    assert {"services", "groups", "secrets", "from_env", "dispatch"} <= set(client["members"])
    assert "get" in client["resources"]["services"]["methods"]
    assert "dispatch" in client["resources"]["services"]["records"]["Service"]
    assert {"cached", "logged", "dispatch"} <= set(surface["WrappedTarget"])


def test_every_official_client_name_is_on_ours(surface: dict[str, Any]) -> None:
    missing: list[str] = []
    with unitysvc.Client(KEY, base_url="http://127.0.0.1:9/v1") as client:
        missing += missing_names(surface["Client"], surface["Client"], client)
    aclient = unitysvc.AsyncClient(KEY, base_url="http://127.0.0.1:9/v1")
    missing += missing_names(surface["AsyncClient"], surface["Client"], aclient)
    assert missing == []


def test_every_official_wrapper_is_on_our_wrapped_targets(surface: dict[str, Any]) -> None:
    for ours in (SyncWrappedTarget, AsyncWrappedTarget):
        assert [n for n in surface["WrappedTarget"] if not hasattr(ours, n)] == [], ours


def test_a_name_we_lack_is_reported(surface: dict[str, Any]) -> None:
    official = json.loads(json.dumps(surface["Client"]))
    official["members"]["teleport"] = "method"
    official["resources"]["services"]["methods"]["beam"] = "method"
    official["resources"]["services"]["records"]["Service"]["fly"] = "method"
    with unitysvc.Client(KEY, base_url="http://127.0.0.1:9/v1") as client:
        missing = missing_names(official, official, client)
    assert missing == ["Client.teleport", "Client.services.beam", "Service.fly"]

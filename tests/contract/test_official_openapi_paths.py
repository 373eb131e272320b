"""Every operation an official release calls is in our app's generated OpenAPI.

Read from the installed releases' generated clients (``_generated/api``: each operation's
``"method"`` and ``"url"``), not from a list kept here, so a new release's calls are
checked the moment it is installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from official_sdk import VERSIONS

from unitysvc_server.app import create_app
from unitysvc_server.config import Settings

_METHOD = re.compile(r'"method":\s*"(\w+)"')
_URL = re.compile(r'"url":\s*"([^"]+)"')


def official_operations(sdk: Path) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for module in (sdk / "unitysvc" / "_generated" / "api").rglob("*.py"):
        text = module.read_text()
        method, url = _METHOD.search(text), _URL.search(text)
        if method and url:
            found.add((method.group(1).lower(), url.group(1)))
    return found


@pytest.fixture(scope="module")
def app_operations(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    spec = create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi"))).openapi()
    paths: dict[str, dict[str, object]] = spec["paths"]  # type: ignore[assignment]
    return {(method, path) for path, ops in paths.items() for method in ops}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_official_operation_is_served(
    official_sdks: dict[str, Path], app_operations: set[tuple[str, str]], version: str
) -> None:
    calls = official_operations(official_sdks[version])
    assert len(calls) > 60  # the whole generated client was read
    missing = sorted((m, p) for m, p in calls if (m, "/v1" + p) not in app_operations)
    assert missing == []


def test_the_reading_sees_where_the_releases_differ(official_sdks: dict[str, Path]) -> None:
    new, old = (
        official_operations(official_sdks["0.2.1"]),
        official_operations(official_sdks["0.1.22"]),
    )
    assert new - old == {
        ("get", "/preferences/"),
        ("get", "/preferences/{name}"),
        ("put", "/preferences/{name}"),
        ("delete", "/preferences/{name}"),
        ("get", "/usage/cycle"),
    }
    assert old - new == {("post", "/request-logs/start"), ("post", "/request-logs/stop")}

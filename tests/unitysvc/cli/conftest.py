"""Fixtures for ``usvc`` tests: Typer's runner against a real platform on 127.0.0.1.

``usvc`` builds its client from the environment, so each invocation runs with the
``UNITYSVC_*`` variables pointing at the module's :class:`LocalPlatform` (and any
variable of the developer's own shell removed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from usvc_runner import Usvc

if TYPE_CHECKING:
    from unitysvc_server.testing import LocalPlatform


@pytest.fixture
def usvc_offline() -> Usvc:
    """``usvc`` with no settings at all (help, usage errors, env)."""
    return Usvc({})


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    from unitysvc_server.testing import LocalPlatform

    with LocalPlatform(demo=True) as running:
        yield running


@pytest.fixture(scope="module")
def api_key(platform: LocalPlatform) -> str:
    return platform.create_customer("cli-tests")


@pytest.fixture(scope="module")
def usvc(platform: LocalPlatform, api_key: str) -> Usvc:
    """``usvc`` configured through the environment for the module's customer."""
    return Usvc({"UNITYSVC_API_KEY": api_key, "UNITYSVC_API_URL": platform.api_url})


@pytest.fixture(scope="module")
def anonymous(platform: LocalPlatform) -> Usvc:
    """``usvc`` pointed at the platform without a key."""
    return Usvc({"UNITYSVC_API_URL": platform.api_url})

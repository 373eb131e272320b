"""pytest plugin (entry point ``pytest11: unitysvc``): a real platform for your tests.

Installed with ``unitysvc[server]``; nothing to configure::

    def test_my_app(unitysvc_platform, unitysvc_customer):
        key = unitysvc_customer("alice")
        with unitysvc_platform.client(key) as client:
            assert client.groups.list()

Fixtures:

* ``unitysvc_platform`` -- a :class:`~unitysvc_server.testing.LocalPlatform`
  with the demo catalog, **module-scoped**: started once per test module (a
  start takes well under a second) so modules are isolated from each other
  while the tests of one module share it. Override ``unitysvc_platform_options``
  (module scope) to change its arguments, e.g. add ``catalogs`` or
  ``upstreams``.
* ``unitysvc_customer`` -- a factory ``(name=None) -> key`` creating a fresh
  customer on that platform (a unique name when none is given).
* ``unitysvc_api_key`` -- the key of one fresh customer per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from unitysvc_server.testing import LocalPlatform


@pytest.fixture(scope="module")
def unitysvc_platform_options() -> dict[str, Any]:
    """Keyword arguments for the module's ``unitysvc_platform``."""
    return {"demo": True}


@pytest.fixture(scope="module")
def unitysvc_platform(unitysvc_platform_options: dict[str, Any]) -> Iterator[LocalPlatform]:
    """A running platform (demo catalog) shared by one test module."""
    with LocalPlatform(**unitysvc_platform_options) as platform:
        yield platform


@pytest.fixture
def unitysvc_customer(unitysvc_platform: LocalPlatform) -> Callable[..., str]:
    """Factory creating customers; returns the new ``svcpass_`` key."""

    def create(name: str | None = None) -> str:
        return unitysvc_platform.create_customer(name or f"customer-{uuid.uuid4().hex[:10]}")

    return create


@pytest.fixture
def unitysvc_api_key(unitysvc_customer: Callable[..., str]) -> str:
    """The key of a fresh customer, new for every test."""
    return unitysvc_customer()

"""Shared fixtures of the server tests: one real platform per test module.

* ``platform`` -- a :class:`LocalPlatform` (demo catalog on) for the module,
  reached over real sockets on 127.0.0.1. A module needing other options
  overrides the ``platform_options`` fixture::

      @pytest.fixture(scope="module")
      def platform_options() -> dict[str, Any]:
          return {"demo": False, "max_body_bytes": 4096}

* ``customer_key`` / ``other_customer_key`` -- keys of two distinct customers
  of that platform (isolation tests use both).
* ``api`` / ``other_api`` -- raw ``httpx`` clients on ``platform.api_url``
  authenticated as those customers.

With ``UNITYSVC_TEST_DATABASE_URL`` set (PostgreSQL), every platform gets its
own fresh database on that server, so modules never see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform


@pytest.fixture(scope="module")
def platform_options() -> dict[str, Any]:
    """Keyword arguments of the module's :class:`LocalPlatform`."""
    return {"demo": True}


@pytest.fixture(scope="module")
def platform(platform_options: dict[str, Any]) -> Iterator[LocalPlatform]:
    """A running platform shared by the tests of one module."""
    with LocalPlatform(**platform_options) as running:
        yield running


@pytest.fixture(scope="module")
def customer_key(platform: LocalPlatform) -> str:
    """Key of the module's main customer."""
    return platform.create_customer(f"alice-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def other_customer_key(platform: LocalPlatform) -> str:
    """Key of a second, unrelated customer."""
    return platform.create_customer(f"bob-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def api(platform: LocalPlatform, customer_key: str) -> Iterator[httpx.Client]:
    """Raw HTTP client on the API base URL as the main customer."""
    with platform.http(customer_key) as client:
        yield client


@pytest.fixture
def other_api(platform: LocalPlatform, other_customer_key: str) -> Iterator[httpx.Client]:
    """Raw HTTP client on the API base URL as the other customer."""
    with platform.http(other_customer_key) as client:
        yield client


@pytest.fixture
def anonymous_api(platform: LocalPlatform) -> Iterator[httpx.Client]:
    """Raw HTTP client on the API base URL without credentials."""
    with platform.http() as client:
        yield client

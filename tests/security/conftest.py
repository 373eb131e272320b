"""Fixtures of the threat-model suite: one platform per package, a counting upstream.

The platform serves the demo catalog (its ``demo-byoe`` service lets a customer choose the
upstream) and ``data/seccat``, whose ``guarded`` service has a channel credential and an
upstream host mapped to :class:`CountingUpstream` on loopback. Tests that need other
settings start their own platform. Every customer is fresh per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from security_helpers import SECCAT, SECCAT_ORIGIN, CountingUpstream

from unitysvc_server.testing import LocalPlatform


@pytest.fixture(scope="package")
def upstream() -> Iterator[CountingUpstream]:
    with CountingUpstream() as running:
        yield running


@pytest.fixture(scope="package")
def platform(upstream: CountingUpstream) -> Iterator[LocalPlatform]:
    with LocalPlatform(
        demo=True, catalogs=[SECCAT], upstreams={SECCAT_ORIGIN: upstream.url}
    ) as running:
        yield running


@pytest.fixture
def key(platform: LocalPlatform) -> str:
    """A fresh customer's key."""
    return platform.create_customer(f"sec-{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="package")
def guarded_id(platform: LocalPlatform) -> str:
    """The service id of ``guarded``."""
    return str(platform.app.runtime.catalog.service_by_name("guarded").id)


@pytest.fixture
def marker() -> str:
    """A unique path segment, to find this test's upstream hits."""
    return "m" + uuid.uuid4().hex[:12]

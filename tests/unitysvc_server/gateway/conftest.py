"""Fixtures of the gateway tests: one LocalPlatform (demo + test catalogs) and a fake upstream.

The platform serves the demo catalog, ``data/gwtest`` (services whose upstream hosts are
mapped to :class:`FakeUpstream` on loopback, or to a closed port for ``dead``), the real
groq catalog (``https://api.groq.com`` mapped to the fake too) and ``data/groups.toml``.
Everything runs over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from gateway_helpers import FakeUpstream, free_port

import unitysvc
from unitysvc_server.testing import LocalPlatform

DATA = Path(__file__).parent / "data"
#: The real groq catalog, checked into the repository (served offline via the upstream map).
GROQ = Path(__file__).parents[1] / "data" / "catalogs" / "groq"
FAKE_ORIGIN = "https://fake.gwtest.example.com"
DEAD_ORIGIN = "https://dead.gwtest.example.com"
GROQ_ORIGIN = "https://api.groq.com"


@pytest.fixture(scope="package")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="package")
def platform(fake: FakeUpstream) -> Iterator[LocalPlatform]:
    with LocalPlatform(
        demo=True,
        catalogs=[DATA / "gwtest", GROQ],
        groups_file=DATA / "groups.toml",
        upstreams={
            FAKE_ORIGIN: fake.url,
            GROQ_ORIGIN: fake.url,
            DEAD_ORIGIN: f"http://127.0.0.1:{free_port()}",
        },
    ) as running:
        yield running


@pytest.fixture(scope="package")
def service_id(platform: LocalPlatform) -> Callable[[str], str]:
    """The id of a catalog service by listing name (``echo``, ``cheap``...)."""
    catalog = platform.app.runtime.catalog

    def find(name: str) -> str:
        service = catalog.service_by_name(name)
        assert service is not None, f"no service {name}"
        return str(service.id)

    return find


@pytest.fixture
def key(platform: LocalPlatform) -> str:
    """A fresh customer per test: nothing leaks between tests."""
    return platform.create_customer(f"gw-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def client(platform: LocalPlatform, key: str) -> Iterator[unitysvc.Client]:
    with platform.client(key) as sdk:
        yield sdk


@pytest.fixture
def gateway(platform: LocalPlatform, key: str) -> Iterator[httpx.Client]:
    """Raw HTTP to the gateway as the test's customer (headers and status exactly)."""
    with httpx.Client(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        yield http


@pytest.fixture
def fake_id(platform: LocalPlatform) -> str:
    """The id of the ``fake`` service of the module's platform (function scope: modules
    with a platform of their own, started with other options, get theirs)."""
    service = platform.app.runtime.catalog.service_by_name("fake")
    assert service is not None
    return str(service.id)


@pytest.fixture
def marker() -> str:
    """A unique path segment, to find this test's upstream hits and log rows."""
    return "m" + uuid.uuid4().hex[:12]

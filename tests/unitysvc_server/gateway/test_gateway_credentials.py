"""BYOK credentials: decrypted once per process, and a changed key used at once.

The gateway keeps a caller's rendered channel (the clear key inside) per process
(``gateway.credentials``). Repeated calls decrypt nothing; a key changed through this
server, or through another server process on the same database, is the one the very
next call sends.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from gateway_helpers import FakeUpstream

import unitysvc
from unitysvc_server.crypto import SecretBox
from unitysvc_server.testing import LocalPlatform, fresh_postgres_database

SECRET = "GWTEST_MULTI_KEY"
DATA = Path(__file__).parent / "data"
#: The gateway test catalog's upstream host (mapped to the fake, as in conftest.py).
FAKE_ORIGIN = "https://fake.gwtest.example.com"


class CountingBox(SecretBox):
    """The platform's own cipher, counting decryptions."""

    __slots__ = ("decrypts",)

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.decrypts = 0

    def decrypt(self, token: str) -> str:
        self.decrypts += 1
        return super().decrypt(token)


@pytest.fixture
def counting_box(platform: LocalPlatform) -> Iterator[CountingBox]:
    runtime = platform.app.runtime
    original = runtime.crypto
    box = CountingBox(runtime.settings.secret_key or "")
    runtime.crypto = box
    yield box
    runtime.crypto = original


def _authorization(response: httpx.Response | Any) -> str:
    assert response.status_code == 200, response.text
    value: str = response.json()["headers"]["authorization"]
    return value


def test_repeated_byok_calls_decrypt_once_and_a_new_key_is_used_at_once(
    client: unitysvc.Client,
    service_id: Callable[[str], str],
    marker: str,
    counting_box: CountingBox,
) -> None:
    path = f"p/{service_id('multi')}/{marker}"
    client.secrets.set(SECRET, f"sk-{marker}-1")
    assert _authorization(client.dispatch(path, json={})) == f"Bearer sk-{marker}-1"
    # The first call records the secret's use (a write that renews the caller's context).
    assert _authorization(client.dispatch(path, json={})) == f"Bearer sk-{marker}-1"
    before = counting_box.decrypts
    for _ in range(5):
        assert _authorization(client.dispatch(path, json={})) == f"Bearer sk-{marker}-1"
    assert counting_box.decrypts == before

    client.secrets.set(SECRET, f"sk-{marker}-2")
    assert _authorization(client.dispatch(path, json={})) == f"Bearer sk-{marker}-2"
    assert counting_box.decrypts == before + 1


@pytest.fixture(params=["sqlite", "postgresql"])
def two_servers(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeUpstream
) -> Iterator[list[LocalPlatform]]:
    """Two server processes on one database, the gateway test catalog behind the fake."""
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            server = request.getfixturevalue("postgres_server_url")
            database_url = stack.enter_context(fresh_postgres_database(server))
        else:
            database_url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'unitysvc.db'}"
        options: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "secret_key": Fernet.generate_key().decode(),
            "catalogs": [DATA / "gwtest"],
            "upstreams": {FAKE_ORIGIN: fake.url},
            "scheduler_enabled": False,
            "process": True,
        }
        yield [stack.enter_context(LocalPlatform(**options)) for _ in range(2)]


def test_a_key_changed_on_another_server_is_used_by_the_next_call(
    two_servers: list[LocalPlatform], service_id: Callable[[str], str]
) -> None:
    first, second = two_servers
    key = first.create_customer(f"byok-{uuid.uuid4().hex[:8]}")
    path = f"/p/{service_id('multi')}/m{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {key}"}
    with first.http(key) as api, httpx.Client(base_url=second.gateway_url, timeout=30) as gw:
        assert api.put(f"/secrets/{SECRET}", json={"value": "sk-old"}).status_code == 201
        for _ in range(3):  # cached on the second server
            assert _authorization(gw.post(path, json={}, headers=headers)) == "Bearer sk-old"
        for round_ in range(3):
            new = f"sk-new-{round_}"
            assert api.put(f"/secrets/{SECRET}", json={"value": new}).status_code == 200
            # The PUT returns once the second server acknowledged the invalidation
            # (SQLite: it checks the shared file before the request), so the very
            # next call carries the new key.
            sent = _authorization(gw.post(path, json={}, headers=headers))
            assert sent == f"Bearer {new}"

"""Finding 6: revoking a key or deleting a customer takes effect on every server at once.

Two server processes share one database (a SQLite file, or PostgreSQL). Both have the
key cached — a hot key is authenticated from memory. The key is revoked through the
operator's admin API on one server, or with ``usvc server keys revoke`` (a third process
writing the database), and from the moment that returns, every request either server
receives with the key is a 401: no call sent after the revocation is accepted. Deleting
a customer works the same way and removes what the customer owned.

The mechanism is one cross-process invalidation bus (``unitysvc_server.invalidation``):
a shared file polled per request on SQLite, ``LISTEN``/``NOTIFY`` on PostgreSQL, Redis
pub/sub as well when configured; each transport is also tested on its own below.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from security_helpers import postgres_server_url, redis_url

from unitysvc_server.invalidation import (
    FileTransport,
    Invalidation,
    InvalidationBus,
    PostgresTransport,
    RedisTransport,
)
from unitysvc_server.testing import LocalPlatform, fresh_postgres_database

ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
#: A service id nobody has: an accepted key gets 404, a refused one 401, no upstream needed.
NOWHERE = f"/p/{uuid.UUID(int=0)}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def two_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LocalPlatform]]:
    """Two server processes on one database, sharing data dir and secret key.

    One pair per database for the module: every test works with a customer of its own,
    and starting a process costs more than the test does with it.
    """
    tmp_path = tmp_path_factory.mktemp("two-servers")
    with contextlib.ExitStack() as stack:
        database_url = None
        if request.param == "postgresql":
            database_url = stack.enter_context(fresh_postgres_database(postgres_server_url()))
        else:
            # The default SQLite file of the shared data dir, even when the suite runs on
            # PostgreSQL (UNITYSVC_TEST_DATABASE_URL).
            database_url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'unitysvc.db'}"
        options: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "secret_key": Fernet.generate_key().decode(),
            "admin_token": ADMIN_TOKEN,
            "scheduler_enabled": False,
            "process": True,
        }
        yield [stack.enter_context(LocalPlatform(**options)) for _ in range(2)]


def _status(http: httpx.Client, server: LocalPlatform, key: str) -> int:
    return http.get(
        f"{server.gateway_url}{NOWHERE}", headers={"Authorization": f"Bearer {key}"}
    ).status_code


def _admin(server: LocalPlatform) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.api_url}/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )


def _revoke_with_cli(server: LocalPlatform, *args: str) -> None:
    settings = server.settings
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "unitysvc_server",
            "keys",
            "revoke",
            *args,
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.resolved_database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


class Hammer:
    """Calls one server in a loop, remembering when each call was sent and its status."""

    def __init__(self, server: LocalPlatform, key: str) -> None:
        self.calls: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(server, key), daemon=True)

    def _run(self, server: LocalPlatform, key: str) -> None:
        with httpx.Client() as http:
            while not self._stop.is_set():
                sent = time.monotonic()
                self.calls.append((sent, _status(http, server, key)))

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.parametrize("via", ["admin-key", "admin-customer", "cli-key", "cli-name"])
def test_a_revoked_key_is_refused_by_every_server_on_the_very_next_call(
    two_servers: list[LocalPlatform], via: str
) -> None:
    first, second = two_servers
    name = f"revoked-{uuid.uuid4().hex[:8]}"
    key = first.create_customer(name)
    with httpx.Client() as http:
        for server in two_servers:  # both caches hold the key now
            assert [_status(http, server, key) for _ in range(3)] == [404, 404, 404]
        with Hammer(second, key) as hammer:
            while len(hammer.calls) < 20:
                time.sleep(0.01)
            if via.startswith("admin"):
                body = {"key": key} if via == "admin-key" else {"customer": name}
                with _admin(first) as admin:
                    answer = admin.post("keys/revoke", json=body)
                assert answer.status_code == 200, answer.text
                assert answer.json() == {"revoked": 1}
            else:
                _revoke_with_cli(first, *([key] if via == "cli-key" else ["--name", name]))
            revoked_at = time.monotonic()
            # The very next call, on either server.
            assert _status(http, second, key) == 401
            assert _status(http, first, key) == 401
            while sum(1 for sent, _ in hammer.calls if sent > revoked_at) < 20:
                time.sleep(0.01)
    after = [status for sent, status in hammer.calls if sent > revoked_at]
    before = [status for sent, status in hammer.calls if sent <= revoked_at]
    assert set(after) == {401}, f"{after.count(404)} call(s) accepted after the revocation"
    assert 404 in before


def test_deleting_a_customer_refuses_its_keys_everywhere_and_removes_its_data(
    two_servers: list[LocalPlatform],
) -> None:
    first, second = two_servers
    name = f"deleted-{uuid.uuid4().hex[:8]}"
    key = first.create_customer(name)
    with first.http(key) as api:
        assert api.put("secrets/PRIVATE", json={"value": "kept-nowhere-1234"}).status_code in (
            200,
            201,
        )
    with httpx.Client() as http:
        assert _status(http, second, key) == 404
        with _admin(first) as admin:
            answer = admin.delete(f"customers/{name}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"]["secrets"] == 1
        assert _status(http, second, key) == 401
        assert _status(http, first, key) == 401
    with second.http(key) as api:
        assert api.get("secrets/").status_code == 401
    # The name is free again, for a new and empty customer.
    with second.http(second.create_customer(name)) as api:
        assert api.get("secrets/").json()["count"] == 0
    with _admin(second) as admin:
        assert admin.delete(f"customers/no-such-{name}").status_code == 404


def test_the_admin_api_is_off_without_a_token_and_needs_the_right_one(tmp_path: Path) -> None:
    with LocalPlatform(data_dir=tmp_path / "off") as platform, httpx.Client() as http:
        off = http.post(f"{platform.api_url}/admin/keys/revoke", json={"customer": "x"})
        assert off.status_code == 403 and "--admin-token" in off.json()["detail"]
    with LocalPlatform(data_dir=tmp_path / "on", admin_token=ADMIN_TOKEN) as platform:
        key = platform.create_customer("somebody")
        with httpx.Client(base_url=f"{platform.api_url}/admin") as http:
            for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
                assert http.get("keys", headers=headers).status_code == 401
            # A customer's own key is not an admin token either.
            assert http.get("keys", headers={"Authorization": f"Bearer {key}"}).status_code == 401
            listed = http.get("keys", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert listed.status_code == 200
        assert [k["customer"] for k in listed.json()] == ["somebody"]
        assert key not in listed.text
        assert "admin" not in str(httpx.get(f"{platform.gateway_url}/openapi.json").json()["paths"])


# -- the transports on their own ----------------------------------------------------------


async def _two_buses(make: Any) -> tuple[InvalidationBus, InvalidationBus, list[Invalidation]]:
    heard: list[Invalidation] = []
    publisher, listener = InvalidationBus([make()]), InvalidationBus([make()])
    listener.subscribe(heard.append)
    await publisher.start()
    await listener.start()
    return publisher, listener, heard


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the invalidation never arrived"
        await asyncio.sleep(0.01)


CUSTOMER = Invalidation.customer(uuid.uuid4())
KEY = Invalidation.key("ab" * 32)


async def test_file_transport_delivers_on_the_next_check_and_overflows_to_everything(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db-invalidations"
    publisher, listener, heard = await _two_buses(lambda: FileTransport(path))
    try:
        publisher.publish_nowait(CUSTOMER, KEY)
        assert heard == []  # nothing until the listener checks: one read per request
        listener.check()
        assert heard == [CUSTOMER, KEY]
        listener.check()
        assert heard == [CUSTOMER, KEY]
        publisher.publish_nowait(*[CUSTOMER] * 2000)  # more than the ring holds
        listener.check()
        assert heard[-1] == Invalidation.everything() and len(heard) == 3
    finally:
        await publisher.close()
        await listener.close()


def _pub_sub(kind: str, stack: contextlib.ExitStack) -> Any:
    """A factory of transports of ``kind`` sharing one channel of this test's own."""
    if kind == "postgresql":
        url = stack.enter_context(fresh_postgres_database(postgres_server_url()))
        return lambda: PostgresTransport(url)
    namespace = uuid.uuid4().hex  # xdist-safe
    return lambda: RedisTransport(redis_url(), namespace)


@pytest.mark.parametrize("kind", ["postgresql", "redis"])
async def test_pub_sub_transports_return_once_delivered(kind: str) -> None:
    with contextlib.ExitStack() as stack:
        publisher, listener, heard = await _two_buses(_pub_sub(kind, stack))
        try:
            await publisher.publish(CUSTOMER, KEY)
            assert heard == [CUSTOMER, KEY]  # acknowledged, so already dropped there
        finally:
            await publisher.close()
            await listener.close()


@pytest.mark.parametrize("kind", ["postgresql", "redis"])
async def test_a_publish_waits_until_a_busy_process_has_dropped_what_it_names(
    kind: str,
) -> None:
    """The other process's loop is busy when the message arrives (as a loaded server's
    is): the server has sent it, the publisher's own echo is back, and still the publish
    must not return before that process has dropped the entries — else a request it
    reads first is judged on the revoked key."""
    heard: list[Invalidation] = []

    def busy_listener(invalidation: Invalidation) -> None:
        time.sleep(0.2)  # the other process's event loop is blocked meanwhile
        heard.append(invalidation)

    other_loop = asyncio.new_event_loop()
    thread = threading.Thread(target=other_loop.run_forever, daemon=True)
    thread.start()
    with contextlib.ExitStack() as stack:
        make = _pub_sub(kind, stack)
        other = InvalidationBus([make()])
        other.subscribe(busy_listener)
        asyncio.run_coroutine_threadsafe(other.start(), other_loop).result(10)
        publisher = InvalidationBus([make()])
        await publisher.start()
        try:
            await publisher.publish(CUSTOMER, KEY)
            assert heard == [CUSTOMER, KEY]
        finally:
            await publisher.close()
            asyncio.run_coroutine_threadsafe(other.close(), other_loop).result(10)
            other_loop.call_soon_threadsafe(other_loop.stop)
            thread.join(10)
            other_loop.close()

"""The per-customer rate limit shared through Redis (``--redis-url``).

Against the real Redis of the run (``redis_server_url``, see ``tests/conftest.py``): the
Lua bucket's refill and cap, two servers on one Redis and one database sharing a
customer's bucket, and the in-process fallback when Redis stops answering.
Each test uses its own key prefix or its own customers and deletes only those keys.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from gateway_helpers import free_port

from unitysvc_server.gateway.ratelimit import RedisTokenBucketLimiter, retry_after_header
from unitysvc_server.keys import list_keys
from unitysvc_server.testing import LocalPlatform, run_sync


@pytest.fixture
def sync_redis(redis_server_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server_url)
    try:
        client.ping()
    except Exception as exc:  # say plainly which server, not a confusing 500 later
        client.close()
        pytest.fail(f"Redis is not reachable at {redis_server_url}: {exc}")
    yield client
    client.close()


@pytest.fixture
def prefix(sync_redis: redis.Redis) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    unique = f"unitysvc:test:rl:{uuid.uuid4().hex}:"
    yield unique
    for stale in sync_redis.scan_iter(match=f"{unique}*"):
        sync_redis.delete(stale)


def _customer_id(platform: LocalPlatform, name: str) -> str:
    """The id of customer ``name``: its bucket's key is ``unitysvc:rl:<id>``."""
    keys = run_sync(list_keys(platform.settings))
    (customer,) = {str(info.customer_id) for info in keys if info.customer_name == name}
    return customer


def _post(http: httpx.Client, url: str, key: str) -> httpx.Response:
    return http.post(url, json={}, headers={"Authorization": f"Bearer {key}"})


async def test_lua_bucket_takes_refills_and_caps(
    sync_redis: redis.Redis, prefix: str, redis_server_url: str
) -> None:
    limiter = RedisTokenBucketLimiter(redis_server_url, rate=2, burst=5, prefix=prefix)
    other = RedisTokenBucketLimiter(redis_server_url, rate=2, burst=5, prefix=prefix)
    try:
        # Two limiters (two processes) drain one bucket: 3 + 2 = burst.
        assert [await limiter.take("a") for _ in range(3)] == [0.0] * 3
        assert [await other.take("a") for _ in range(2)] == [0.0] * 2
        wait = await other.take("a")
        assert 0 < wait <= 0.5  # one token at 2/s
        assert retry_after_header(wait) == b"1"
        assert await limiter.take("b") == 0.0  # buckets are per customer
        key = limiter.key("a")
        tokens = float(sync_redis.hget(key, "t") or "nan")
        assert 0 <= tokens < 1
        # Idle keys expire once the bucket would be full again (5 tokens at 2/s).
        assert 0 < sync_redis.pttl(key) <= limiter.expiry_ms == 2500

        # Refill: move the bucket's last update one second into Redis's past.
        sync_redis.hincrbyfloat(key, "u", -1.0)
        assert [await limiter.take("a") for _ in range(2)] == [0.0, 0.0]
        assert await limiter.take("a") > 0

        # A long idle refills up to the burst, never beyond.
        sync_redis.hincrbyfloat(key, "u", -100.0)
        assert [await other.take("a") for _ in range(5)] == [0.0] * 5
        assert await other.take("a") > 0
    finally:
        await limiter.close()
        await other.close()


async def test_unreachable_redis_falls_back_to_the_process_bucket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens there; the password must not reach the log.
    limiter = RedisTokenBucketLimiter(
        f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0", rate=1, burst=2, recheck_after=0
    )
    caplog.set_level(logging.WARNING, logger="unitysvc_server.gateway")
    try:
        waits = [await limiter.take("a") for _ in range(3)]
    finally:
        await limiter.close()
    assert waits[:2] == [0.0, 0.0] and 0 < waits[2] <= 1.0
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "s3cret-pw" not in caplog.text


def test_two_servers_share_one_bucket(
    tmp_path: Path, sync_redis: redis.Redis, redis_server_url: str
) -> None:
    rate, burst, attempts = 0.01, 5, 12  # no token comes back during the test
    options = {
        "demo": True,
        "data_dir": tmp_path,
        "redis_url": redis_server_url,
        # One SQLite file: both servers must know the same customer.
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'unitysvc.db'}",
        "rate_limit_rps": rate,
        "rate_limit_burst": burst,
    }
    with LocalPlatform(**options) as first, LocalPlatform(**options) as second:
        key = first.create_customer("shared-bucket")
        customer = _customer_id(first, "shared-bucket")
        echo = str(first.app.runtime.catalog.service_by_name("echo").id)
        try:
            with httpx.Client() as http:
                responses = [
                    _post(http, f"{server.gateway_url}/p/{echo}", key)
                    for server in [first, second] * (attempts // 2)
                ]
            in_redis = sync_redis.exists(f"unitysvc:rl:{customer}")
        finally:
            sync_redis.delete(f"unitysvc:rl:{customer}")
    statuses = [r.status_code for r in responses]
    # Per process, each server would have let 5 through (10 in all).
    assert statuses == [200] * burst + [429] * (attempts - burst), statuses
    for limited in responses[burst:]:
        assert 1 <= int(limited.headers["retry-after"]) <= math.ceil(1 / rate)
        body = limited.json()
        assert body["error_source"] == "gateway" and body["error_type"] == "rate_limited"
    assert in_redis == 1


class _Proxy:
    """A TCP relay to Redis that can be cut mid-run, like Redis going away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        self._stopped.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def test_redis_lost_mid_run_limits_per_process_without_errors(
    sync_redis: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    target = sync_redis.connection_pool.connection_kwargs
    proxy = _Proxy((target.get("host", "127.0.0.1"), int(target.get("port", 6379))))
    db = target.get("db", 0)
    caplog.set_level(logging.WARNING, logger="unitysvc_server.gateway")
    try:
        with LocalPlatform(
            demo=True,
            redis_url=f"redis://127.0.0.1:{proxy.port}/{db}",
            rate_limit_rps=0.01,
            rate_limit_burst=3,
        ) as platform:
            key = platform.create_customer("redis-lost")
            customer = _customer_id(platform, "redis-lost")
            bucket = f"unitysvc:rl:{customer}"
            echo = platform.app.runtime.catalog.service_by_name("echo").id
            url = f"{platform.gateway_url}/p/{echo}"
            try:
                with httpx.Client() as http:
                    shared = [_post(http, url, key) for _ in range(2)]
                    # Two tokens were taken in Redis, none in the process.
                    assert float(sync_redis.hget(bucket, "t") or "nan") == pytest.approx(
                        1, abs=0.01
                    )
                    proxy.cut()
                    alone = [_post(http, url, key) for _ in range(4)]
            finally:
                sync_redis.delete(bucket)
    finally:
        proxy.cut()
    assert [r.status_code for r in shared] == [200, 200]
    # The process bucket starts full: burst more, then 429 — never a 500.
    assert [r.status_code for r in alone] == [200, 200, 200, 429], [r.text for r in alone]
    assert int(alone[-1].headers["retry-after"]) >= 1
    assert alone[-1].json()["error_source"] == "gateway"
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]

"""Finding 2: what a client sends before authentication is bounded, and so are idle clients.

Before any application code runs, the server reads the request line and headers; they
are metered as they arrive (``unitysvc_server.serving``): 414 for a request line over
16 KiB, 431 for a header over 16 KiB, headers over 64 KiB in all or more than 100 of
them — answered with ``Connection: close`` before more is read. Connections beyond the
limit get 503; a client that trickles its headers (slowloris) gets 408, one that stalls
in its body is disconnected. All are settings and ``usvc server start`` options. Every
request here is written to a raw socket on loopback.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from security_helpers import cli_server, raw_exchange

from unitysvc_server.testing import LocalPlatform

KIB = 1024


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPlatform]:
    """Default limits, and a short client timeout so the slow-client tests are quick."""
    with LocalPlatform(client_timeout=1.0) as platform:
        yield platform


def _head(target: str = "/healthz", headers: list[tuple[str, str]] | None = None) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "host: 127.0.0.1", "connection: close"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _flood(port: int, prefix: bytes, size: int) -> tuple[int, int, float]:
    """Send ``prefix`` then up to ``size`` bytes of one header value; stop when the server
    answers. Returns the status, how many bytes were sent, and the seconds it took."""
    started = time.monotonic()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(prefix)
        chunk = b"a" * (64 * KIB)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
        response = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := sock.recv(65536):
                response += chunk
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0
    return status, sent, time.monotonic() - started


def test_a_huge_header_is_refused_with_431_before_it_is_read(server: LocalPlatform) -> None:
    prefix = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-flood: "
    status, sent, seconds = _flood(server.settings.port, prefix, 64 * 1024 * KIB)
    assert status == 431
    # The server answered and closed long before 64 MiB were accepted.
    assert sent < 8 * 1024 * KIB, sent
    assert seconds < 5


def test_a_one_mib_header_gets_431_not_200(server: LocalPlatform) -> None:
    status, response = raw_exchange(
        server.settings.port, _head(headers=[("x-big", "b" * 1024 * KIB)])
    )
    assert status == 431, response[:200]
    assert b"connection: close" in response.lower()


def test_a_long_request_line_gets_414(server: LocalPlatform) -> None:
    status, _ = raw_exchange(server.settings.port, _head(target="/healthz?q=" + "x" * 17 * KIB))
    assert status == 414


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("x-h", "v")] * 98, 200),  # 100 with host and connection
        ([("x-h", "v")] * 99, 431),
        ([("x-a", "a" * 15 * KIB)], 200),
        ([("x-a", "a" * 17 * KIB)], 431),
        ([(f"x-{i}", "a" * 15 * KIB) for i in range(4)], 200),
        ([(f"x-{i}", "a" * 15 * KIB) for i in range(5)], 431),  # 75 KiB in all
    ],
    ids=["100-headers", "101-headers", "15k-header", "17k-header", "60k-total", "75k-total"],
)
def test_header_count_and_sizes_are_bounded(
    server: LocalPlatform, headers: list[tuple[str, str]], expected: int
) -> None:
    status, response = raw_exchange(server.settings.port, _head(headers=headers))
    assert status == expected, response[:300]


def test_a_client_trickling_its_headers_gets_408(server: LocalPlatform) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.settings.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        response = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(50):  # a byte every 0.1 s: 5 s if nobody stops it
                sock.sendall(b"x")
                time.sleep(0.1)
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    response += sock.recv(4096)
                sock.setblocking(True)
                if response:
                    break
    assert response.startswith(b"HTTP/1.1 408"), response[:100]
    assert time.monotonic() - started < 3


def test_idle_and_stalled_connections_are_closed(server: LocalPlatform) -> None:
    port = server.settings.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
        started = time.monotonic()
        assert idle.recv(4096).startswith(b"HTTP/1.1 408")  # never sent a byte
        assert idle.recv(4096) == b""
        assert time.monotonic() - started < 3
    with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
        stalled.sendall(
            b"POST /v1/resolve HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n" + b"{" * 10
        )
        started = time.monotonic()
        assert stalled.recv(4096) == b""  # closed mid-body, nothing answered
        assert time.monotonic() - started < 3


def test_connections_beyond_the_limit_get_503() -> None:
    with LocalPlatform(max_connections=8, client_timeout=30) as platform:
        port = platform.settings.port
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
        try:
            time.sleep(0.2)  # let the server accept all of them
            status, response = raw_exchange(port, _head())
            assert status == 503, response[:200]
            held.pop().close()
            deadline = time.monotonic() + 5
            while (status := raw_exchange(port, _head())[0]) != 200:
                assert time.monotonic() < deadline, status
                time.sleep(0.05)
        finally:
            for sock in held:
                sock.close()


def test_a_64_mib_header_neither_stalls_others_nor_grows_the_server(tmp_path: Path) -> None:
    with cli_server(tmp_path, "--no-scheduler") as running:
        before = running.rss_kib()
        stalls: list[float] = []
        done = threading.Event()

        def probe() -> None:
            with httpx.Client(timeout=10) as http:
                while not done.is_set():
                    started = time.monotonic()
                    assert http.get(f"{running.root}/healthz").status_code == 200
                    stalls.append(time.monotonic() - started)
                    time.sleep(0.01)

        def samples(count: int) -> None:
            deadline = time.monotonic() + 10
            while len(stalls) < count and time.monotonic() < deadline:
                time.sleep(0.01)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            samples(3)
            prefix = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-flood: "
            results = [_flood(running.port, prefix, 64 * 1024 * KIB) for _ in range(4)]
            samples(len(stalls) + 3)
        finally:
            done.set()
            prober.join(20)
        after = running.rss_kib()
    assert [status for status, _, _ in results] == [431] * 4
    print(
        f"64 MiB header x4: answered in {max(s for _, _, s in results):.3f}s at most; "
        f"other requests' worst latency {max(stalls):.3f}s; RSS {before} -> {after} KiB"
    )
    assert max(stalls) < 1.0
    assert after - before < 32 * 1024  # the floods cost nothing like their 256 MiB

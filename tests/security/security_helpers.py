"""Helpers of the threat-model suite: a loopback upstream that counts connections, raw HTTP.

:class:`CountingUpstream` is an HTTP/1.1 server on a free 127.0.0.1 port (asyncio and
``httptools``, in a background thread) that records the exact request target and headers
it receives and how many connections are open right now. Paths:

* ``.../hold`` — never answers (the connection stays until one side closes it);
* ``.../stream`` — 200, then one chunk every 20 ms for as long as the connection lasts;
* ``.../slow`` — the JSON echo below, after :data:`SLOW_SECONDS`;
* anything else — 200 JSON: method, raw target, headers, body, and the hit count.

:func:`raw_exchange` sends bytes exactly as given over a socket (clients such as httpx
normalise ``..`` segments away, which would hide what an attacker can send).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httptools

#: The threat-model suite's catalog: ``guarded``, a managed service with a credential.
SECCAT = Path(__file__).parent / "data" / "seccat"
#: The upstream origin of ``guarded`` (mapped to a :class:`CountingUpstream`).
SECCAT_ORIGIN = "https://upstream.seccat.example.com"


#: How long ``.../slow`` takes to answer.
SLOW_SECONDS = 0.4


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Connection(asyncio.Protocol):
    def __init__(self, upstream: CountingUpstream) -> None:
        self.upstream = upstream
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.streamer: asyncio.Task[None] | None = None
        self.busy: str | None = None  # "hold" or "stream" while answering one of those

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.upstream.open_connections += 1
        self.upstream.accepted += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.upstream.open_connections -= 1
        if self.busy is not None:
            self.upstream.busy[self.busy] -= 1
        if self.streamer is not None:
            self.streamer.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", [], b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        assert self.transport is not None
        target = self.url.decode("latin-1")
        hit = {
            "method": self.parser.get_method().decode(),
            "target": target,
            "headers": dict(self.headers),
            "body": self.body.decode("utf-8", "replace"),
        }
        self.upstream.hits.append(hit)
        path = target.split("?", 1)[0]
        if path.endswith("/hold"):
            self._busy("hold")
            return
        if path.endswith("/stream"):
            self._busy("stream")
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            self.streamer = asyncio.get_running_loop().create_task(self._stream())
            return
        body = json.dumps({**hit, "hits": len(self.upstream.hits)}).encode()
        if path.endswith("/slow"):
            asyncio.get_running_loop().call_later(SLOW_SECONDS, self._answer, body)
            return
        self._answer(body)

    def _answer(self, body: bytes) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    def _busy(self, kind: str) -> None:
        self.busy = kind
        self.upstream.busy[kind] += 1

    async def _stream(self) -> None:
        assert self.transport is not None
        while not self.transport.is_closing():
            self.transport.write(b"6\r\nchunk\n\r\n")
            await asyncio.sleep(0.02)


class CountingUpstream:
    """A loopback upstream that records requests and counts its open connections.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        hits: Every request received (method, raw target, headers, body).
        open_connections: Connections open right now.
        accepted: Connections accepted since start.
        busy: Connections open right now on a ``hold`` or a ``stream`` request.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits: list[dict[str, Any]] = []
        self.open_connections = 0
        self.accepted = 0
        self.busy = {"hold": 0, "stream": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def targets(self, marker: str) -> list[str]:
        """The raw request targets received that contain ``marker``."""
        return [hit["target"] for hit in self.hits if marker in hit["target"]]

    def __enter__(self) -> CountingUpstream:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the counting upstream did not start")
        return self

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await self._loop.create_server(
            lambda: _Connection(self), "127.0.0.1", self.port, reuse_address=True
        )
        self._ready.set()
        async with server:
            await self._stop.wait()

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send ``data`` as is to 127.0.0.1:``port``; the response status and whole response.

    The request should ask for ``Connection: close``: the response is read until the
    server closes the connection (or ``timeout``).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks: list[bytes] = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    response = b"".join(chunks)
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.") else 0
    return status, response


def response_body(response: bytes) -> bytes:
    """The body of a complete, non-chunked raw response."""
    return response.partition(b"\r\n\r\n")[2]


def http_request(
    method: str, target: str, key: str | None, body: bytes = b"", extra: str = ""
) -> bytes:
    """A raw HTTP/1.1 request with ``Connection: close`` (and the bearer key, if given)."""
    head = f"{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n"
    if key is not None:
        head += f"authorization: Bearer {key}\r\n"
    if body:
        head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode("latin-1") + body


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


@dataclass(frozen=True)
class CliServer:
    """A running ``unitysvc_server start`` process.

    Attributes:
        root: ``http://127.0.0.1:<port>``.
        port: Its port.
        log: The file receiving its stdout and stderr (complete once it stopped).
        pid: Its process id.
    """

    root: str
    port: int
    log: Path
    pid: int

    def rss_kib(self) -> int:
        """The process's resident memory (Linux ``/proc``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")


@contextlib.contextmanager
def cli_server(data_dir: Path, *args: str) -> Iterator[CliServer]:
    """Run ``python -m unitysvc_server start`` with ``args`` (a free port, ``data_dir``).

    Yields once ``/healthz`` answers; the server is stopped (SIGTERM) on exit, so its
    log file is complete afterwards.
    """
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "unitysvc_server",
                "start",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            with contextlib.suppress(OSError):
                status, _ = raw_exchange(port, http_request("GET", "/healthz", None), timeout=2)
                if status == 200:
                    break
            assert time.monotonic() < deadline, "the CLI server did not become healthy"
            time.sleep(0.05)
        yield CliServer(root, port, log, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def postgres_server_url() -> str:
    """The run's PostgreSQL server, for tests about several processes on one database.

    ``tests/conftest.py`` picks it once per run (the given URL, the local server, or an
    embedded one) and exports it; make databases on it with
    :func:`unitysvc_server.testing.fresh_postgres_database`.
    """
    return _session_server("UNITYSVC_TEST_POSTGRES_SERVER")


def redis_url() -> str:
    """The run's Redis (picked like :func:`postgres_server_url`); tests keep to own keys."""
    return _session_server("UNITYSVC_TEST_REDIS_SERVER")


def _session_server(name: str) -> str:
    import os

    import pytest

    url = os.environ.get(name)
    if not url:
        pytest.fail(f"{name} is not set: tests/conftest.py sets it at the start of the run")
    return url

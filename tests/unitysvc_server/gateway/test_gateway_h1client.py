"""The gateway's HTTP/1.1 upstream client against raw sockets on 127.0.0.1.

Each test runs a tiny asyncio server that answers with exact bytes, so framing edge cases
(chunked, read-until-close, HEAD, interim 1xx, stale keep-alive connections, a stalled
body, TLS) are produced on purpose rather than hoped for.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from unitysvc_server.gateway.h1client import (
    HIGH_WATER,
    BadUpstreamURL,
    UpstreamConnectError,
    UpstreamPool,
    UpstreamProtocolError,
    UpstreamTimeout,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Accepts connections and runs ``handler`` on each; records the request heads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.ssl: ssl.SSLContext | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        # Handlers end on EOF rather than by cancellation at loop teardown.
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()


async def read_request(reader: asyncio.StreamReader, heads: list[bytes]) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    heads.append(head)
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return await reader.readexactly(length) if length else b""


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


@pytest.fixture
async def pool() -> AsyncIterator[UpstreamPool]:
    client = UpstreamPool(timeout=5, connect_timeout=5)
    yield client
    await client.close()


async def test_keep_alive_reuses_one_connection_and_frames_the_request(
    pool: UpstreamPool,
) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            body = await read_request(reader, heads)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Up: 1\r\n\r\n" % len(body))
            writer.write(body)
            await writer.drain()

    async with RawServer(handler) as server:
        authority = server.url.removeprefix("http://")
        for n in range(3):
            response = await pool.request(
                "POST", f"{server.url}/v1/echo?q={n}", [(b"x-a", b"b")], b"hello %d" % n
            )
            assert response.status == 200
            assert (b"X-Up", b"1") in response.headers
            assert await read_all(response.iter_body()) == b"hello %d" % n
            response.release()
        empty = await pool.request("POST", f"{server.url}/none", [], b"")
        assert await read_all(empty.iter_body()) == b""
        empty.release()
    assert server.connections == 1
    first = heads[0].decode()
    assert first.startswith("POST /v1/echo?q=0 HTTP/1.1\r\n")
    assert f"host: {authority}\r\n" in first
    assert "x-a: b\r\n" in first and "content-length: 7\r\n" in first
    assert "content-length: 0\r\n" in heads[3].decode()


async def test_chunked_and_read_until_close_bodies(pool: UpstreamPool) -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, [])
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        await writer.drain()
        await reader.read()  # keep the connection open

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, [])
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()

    async with RawServer(chunked) as server:
        response = await pool.request("GET", server.url + "/", [], b"")
        assert await read_all(response.iter_body()) == b"hello world"
        response.release()
    async with RawServer(until_close) as server:
        response = await pool.request("GET", server.url + "/", [], b"")
        assert await read_all(response.iter_body()) == b"all of it"
        response.release()


async def test_head_and_interim_responses(pool: UpstreamPool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader, [])
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
            writer.write(b"" if reader.at_eof() else b"body")
            await writer.drain()

    async with RawServer(handler) as server:
        head = await pool.request("HEAD", server.url + "/", [], b"")
        assert head.status == 200
        assert (b"Content-Length", b"4") in head.headers
        assert await read_all(head.iter_body()) == b""
        head.release()
        got = await pool.request("GET", server.url + "/", [], b"")
        assert got.status == 200
        assert [name for name, _ in got.headers] == [b"Content-Length"]
        assert await read_all(got.iter_body()) == b"body"
        got.release()


async def test_stale_pooled_connection_is_retried_once(pool: UpstreamPool) -> None:
    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Answers once with keep-alive, then drops the connection when the next request
        # comes: exactly what a server that timed out an idle connection looks like.
        await read_request(reader, [])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await read_request(reader, [])

    async with RawServer(one_answer) as server:
        for _ in range(3):
            response = await pool.request("POST", server.url + "/", [], b"{}")
            assert response.status == 200
            assert await read_all(response.iter_body()) == b"ok"
            response.release()
    # Requests 2 and 3 each met a dropped kept-alive connection and went out again.
    assert server.connections == 3


async def test_timeouts_errors_and_interrupted_bodies(pool: UpstreamPool) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, [])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        await reader.read()  # until the client gives up and closes

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, [])
        await reader.read()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, [])
        writer.write(b"SPDY/9 what\r\n\r\n")
        await writer.drain()

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, [])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()

    async with RawServer(silent) as server:
        with pytest.raises(UpstreamTimeout):
            await pool.request("GET", server.url + "/", [], b"", timeout=0.2)
    async with RawServer(stall) as server:
        response = await pool.request("GET", server.url + "/", [], b"", timeout=0.2)
        body = response.iter_body()
        assert await anext(body) == b"abc"
        with pytest.raises(UpstreamTimeout):
            await anext(body)
        response.release()
    async with RawServer(garbage) as server:
        with pytest.raises(UpstreamProtocolError):
            await pool.request("GET", server.url + "/", [], b"")
    async with RawServer(cut) as server:
        response = await pool.request("GET", server.url + "/", [], b"")
        with pytest.raises(UpstreamProtocolError):
            await read_all(response.iter_body())
        response.release()
    async with RawServer(silent) as server:
        url = server.url
    with pytest.raises(UpstreamConnectError):
        await pool.request("GET", url + "/", [], b"")
    for bad in ("ftp://x/", "http:///x", "http://a b/", "http://u@h/", "http://h:99999/"):
        with pytest.raises(BadUpstreamURL):
            await pool.request("GET", bad, [], b"")
    with pytest.raises(UpstreamProtocolError):
        await pool.request("GET", url + "/", [(b"x-bad", b"a\r\nx-injected: 1")], b"")


async def test_large_body_is_read_with_bounded_buffering(pool: UpstreamPool) -> None:
    total = 64 * 1024 * 1024
    piece = b"x" * (256 * 1024)

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader, [])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        for _ in range(total // len(piece)):
            writer.write(piece)
            await writer.drain()

    async with RawServer(big) as server:
        response = await pool.request("GET", server.url + "/", [], b"")
        received = largest = 0
        async for chunk in response.iter_body():
            received += len(chunk)
            largest = max(largest, len(chunk))
            await asyncio.sleep(0)  # a consumer slower than the socket
        response.release()
    assert received == total
    # Reading pauses past the high-water mark: what waits is bounded, not the whole body.
    assert largest <= HIGH_WATER + 512 * 1024


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and 127.0.0.1, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_upstream_is_verified(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader, [])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
            await writer.drain()

    raw = RawServer(handler)
    raw.ssl = server_context
    trusting = UpstreamPool(ssl_context=ssl.create_default_context(cafile=str(cert)))
    default = UpstreamPool()
    try:
        async with raw as server:
            https = server.url.replace("http://", "https://").replace("127.0.0.1", "localhost")
            for _ in range(2):
                response = await trusting.request("GET", https + "/", [], b"")
                assert await read_all(response.iter_body()) == b"secret"
                response.release()
            # The system trust store does not know this certificate: refused, not ignored.
            with pytest.raises(UpstreamConnectError):
                await default.request("GET", https + "/", [], b"")
    finally:
        await trusting.close()
        await default.close()
    # Both calls shared one kept-alive TLS connection (the refused handshake never got one).
    assert server.connections == 1

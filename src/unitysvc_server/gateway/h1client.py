"""A lean HTTP/1.1 client for the gateway's upstream calls: pooled keep-alive, streamed bodies.

Why not a general-purpose client: the gateway forwards bytes it already holds (headers as
byte pairs, a body read in full) and streams the answer back untouched. A general client
re-encodes headers, builds request and response objects, timers and tracing hooks on every
call; on the bench machine that was about half the gateway's CPU per proxied request
(bench/bench_gateway.py: a bare uvicorn + aiohttp proxy served 3,100-6,500 requests/s at
20 concurrent calls, the same proxy on this client 8,200-14,000). This client is an
``asyncio.Protocol`` around ``httptools``' response parser (llhttp, the parser uvicorn
uses; installed with ``uvicorn[standard]``) and does only what the gateway needs:

* one pool of idle keep-alive connections per (scheme, host, port), TLS for ``https``
  with the system's default verification, ``TCP_NODELAY`` (the event loop's default);
* the request written in one ``write``: request line, ``Host``, the given headers,
  ``Content-Length`` and the body;
* response headers as raw byte pairs, then the body as it arrives (chunked transfer
  coding removed, read-until-close supported), with backpressure: reading pauses while
  more than :data:`HIGH_WATER` bytes wait for the consumer, so streaming a huge body
  holds a bounded amount of memory;
* a connect timeout and a read timeout (no byte for that long, before or between
  chunks); no redirects followed, no decompression, no cookies, no proxies from the
  environment;
* a pooled connection that the server closed while idle is detected on reuse and the
  request retried once on a fresh connection when nothing of a response had arrived;
* host names resolved by an injected :class:`AddressSource` (the SSRF policy), and the
  connection opened to exactly an address it returned — TLS still verifies the name.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import Protocol, cast

import httptools

Headers = list[tuple[bytes, bytes]]
#: (tls, host, port, private_ok): connections opened under different address policies
#: are never shared.
_Key = tuple[bool, str, int, bool]


class AddressSource(Protocol):
    """Turns a URL's host into the addresses a connection may be opened to."""

    async def addresses(self, host: str, private_ok: bool = False) -> list[str]:
        """The addresses to try, in order; raises to refuse the host."""
        ...


#: Pause reading from the upstream while this many body bytes wait for the consumer.
HIGH_WATER = 1024 * 1024
#: ... and resume once the consumer is below this.
LOW_WATER = 256 * 1024
#: Idle connections kept per upstream origin.
MAX_IDLE_PER_ORIGIN = 256
#: Methods whose request carries ``Content-Length: 0`` even without a body.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class UpstreamError(Exception):
    """A failed upstream call."""


class UpstreamConnectError(UpstreamError):
    """No connection could be made (refused, unresolvable, TLS handshake failed)."""


class UpstreamTimeout(UpstreamError):
    """Connecting took too long, or the upstream sent nothing for the read timeout."""


class UpstreamProtocolError(UpstreamError):
    """The upstream closed the connection early or answered with something not HTTP/1.x."""


class BadUpstreamURL(UpstreamError):
    """The URL is not an absolute ``http``/``https`` URL with a host."""


def _split_url(url: str) -> tuple[bool, str, int, bytes, bytes]:
    """``(tls, host, port, request target, Host header value)`` of an absolute URL."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise BadUpstreamURL(url)
    slash = min((i for i in map(rest.find, "/?#") if i != -1), default=len(rest))
    authority, target = rest[:slash], rest[slash:].partition("#")[0]
    if not authority or "@" in authority or any(c in authority for c in " \r\n\t"):
        raise BadUpstreamURL(url)
    tls = scheme == "https"
    host, port = _host_port(url, authority, 443 if tls else 80)
    if not target.startswith("/"):
        target = "/" + target
    if any(c in target for c in " \r\n\t\0"):
        raise BadUpstreamURL(url)
    try:
        host_header = authority.encode("ascii") if authority.isascii() else authority.encode("idna")
        # Latin-1 gives back the very bytes the caller sent (the ASGI path was decoded so).
        raw_target = target.encode("latin-1")
    except UnicodeError:
        raise BadUpstreamURL(url) from None
    return tls, host, port, raw_target, host_header


def _host_port(url: str, authority: str, default_port: int) -> tuple[str, int]:
    """The host (IPv6 without brackets) and port of a URL's ``authority``."""
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise BadUpstreamURL(url)
        host, port_text = authority[1:close], authority[close + 1 :].removeprefix(":")
    else:
        host, _, port_text = authority.partition(":")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise BadUpstreamURL(url)
        port = int(port_text)
    if not host:
        raise BadUpstreamURL(url)
    return host, port


class _Connection(asyncio.Protocol):
    """One upstream connection; parses the response of the request in flight."""

    def __init__(self, pool: UpstreamPool, key: _Key) -> None:
        self._pool = pool
        self.key = key
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle = False
        # Per exchange (reset by begin()):
        self._head = False
        self.received = False
        self.status = 0
        self.headers: Headers = []
        self._framed = False
        self.keep_alive = False
        self.done = False
        self.error: BaseException | None = None
        self._headers_ready = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.attach(transport)

    def attach(self, transport: asyncio.BaseTransport) -> None:
        """Hold the connection's transport (uvloop's is not an ``asyncio.Transport``
        subclass, but has its methods)."""
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.idle or self.done:
            # Bytes nobody asked for: the connection's framing cannot be trusted any more.
            self.close()
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"malformed upstream response ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool._forget(self)
        if self.done:
            return
        if self._headers_ready and not self._framed and not self._head:
            # Neither Content-Length nor chunked: the body ends when the connection does.
            self.done = True
            self.keep_alive = False
            self._wake()
            return
        self._fail(UpstreamProtocolError("the upstream closed the connection mid-response"))

    # -- httptools callbacks ---------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"content-length" or (
            lower == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim answer (100 Continue, 103 Early Hints): the real one follows.
            self.headers = []
            self._framed = False
            return
        self.status = status
        self.keep_alive = self._parser.should_keep_alive()
        self._headers_ready = True
        if self._head or status in (204, 304):
            self._framed = True
        if self._head:
            # llhttp cannot be told the request was HEAD: end here, never reuse.
            self.done = True
            self.keep_alive = False
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.done:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self._headers_ready or self.done:
            return  # the end of an interim 1xx answer, or of a HEAD answer's phantom body
        self.done = True
        self._wake()

    # -- exchange --------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def begin(self, request: bytes, head: bool) -> None:
        """Send ``request`` (the whole message) and start expecting its response."""
        self.idle = False
        self._head = head
        self.received = False
        self.status = 0
        self.headers = []
        self._framed = False
        self.keep_alive = False
        self.done = False
        self.error = None
        self._headers_ready = False
        self._chunks.clear()
        self._buffered = 0
        assert self._transport is not None
        self._transport.write(request)

    async def _wait(self, timeout: float | None) -> None:
        waiter = self._waiter = self._loop.create_future()
        timer = (
            self._loop.call_later(timeout, self._expire, waiter) if timeout is not None else None
        )
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _expire(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            self._fail(UpstreamTimeout("the upstream sent nothing for the read timeout"))

    async def read_head(self, timeout: float | None) -> None:
        """Wait for the status line and headers."""
        while not self._headers_ready and self.error is None:
            await self._wait(timeout)
        if self.error is not None and not self._headers_ready:
            raise self.error

    async def body(self, timeout: float | None) -> AsyncIterator[bytes]:
        """The response body as it arrives (what is buffered comes as one chunk)."""
        chunks = self._chunks
        while True:
            if chunks:
                data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self._buffered = 0
                if self._paused and self._transport is not None and not self.closed:
                    self._paused = False
                    self._transport.resume_reading()
                yield data
                continue
            if self.done:
                return
            if self.error is not None:
                raise self.error
            await self._wait(timeout)

    def close(self) -> None:
        """Close the connection (a half-read or failed one is never reused)."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def reusable(self) -> bool:
        """Whether the exchange ended cleanly on a connection the server keeps open."""
        return self.done and self.keep_alive and self.error is None and not self.closed

    def release(self) -> None:
        """Back to the pool when reusable, else closed."""
        self._pool._release(self)


class UpstreamResponse:
    """An upstream answer whose body has not been read yet.

    Attributes:
        status: HTTP status.
        headers: Raw response headers (names as the upstream sent them).
    """

    __slots__ = ("status", "headers", "_connection", "_timeout", "_released")

    def __init__(self, connection: _Connection, timeout: float | None) -> None:
        self.status = connection.status
        self.headers = connection.headers
        self._connection = connection
        self._timeout = timeout
        self._released = False

    def iter_body(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk; raises :class:`UpstreamError` if it breaks off."""
        return self._connection.body(self._timeout)

    def release(self) -> None:
        """Return the connection to the pool if the body was read to the end, else close it."""
        if self._released:
            return
        self._released = True
        self._connection.release()


class UpstreamPool:
    """Keep-alive connections to upstreams, and the request function.

    Args:
        timeout: Read timeout in seconds (no byte for that long fails the call).
        connect_timeout: Seconds to establish a connection (TLS handshake included).
        ssl_context: For ``https`` upstreams; the system default when ``None``.
        addresses: Resolves (and vets) host names before a connection is opened; the
            event loop's resolver, unchecked, when ``None``.
    """

    def __init__(
        self,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        addresses: AddressSource | None = None,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._ssl = ssl_context
        self._addresses = addresses
        self._idle: dict[_Key, list[_Connection]] = {}
        self._closed = False

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def request(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        private_ok: bool = False,
    ) -> UpstreamResponse:
        """Send a request and wait for the response headers.

        Args:
            method: HTTP method.
            url: Absolute ``http``/``https`` URL.
            headers: Headers to send (no ``Host``/``Content-Length``: this adds them).
            body: The request body.
            timeout: Read timeout for this call; the pool's when ``None``.
            connect_timeout: Connect timeout for this call; the pool's when ``None``.
            private_ok: Passed to the address source (an operator-named destination).

        Raises:
            BadUpstreamURL, UpstreamConnectError, UpstreamTimeout, UpstreamProtocolError,
            and whatever the address source raises to refuse the host.
        """
        if self._closed:
            raise UpstreamConnectError("the upstream client is closed")
        tls, host, port, target, host_header = _split_url(url)
        read_timeout = self.timeout if timeout is None else timeout
        parts = [method.encode("latin-1"), b" ", target, b" HTTP/1.1\r\nhost: ", host_header]
        for name, value in headers:
            if b"\n" in value or b"\r" in value or b"\n" in name or b"\r" in name:
                raise UpstreamProtocolError("a header for the upstream contains a line break")
            parts += (b"\r\n", name, b": ", value)
        if body or method in _BODY_METHODS:
            parts += (b"\r\ncontent-length: ", str(len(body)).encode())
        parts += (b"\r\n\r\n", body)
        message = b"".join(parts)
        head = method == "HEAD"
        key = (tls, host, port, private_ok)
        while True:
            connection, reused = await self._acquire(key, connect_timeout)
            connection.begin(message, head)
            try:
                await connection.read_head(read_timeout)
            except UpstreamProtocolError:
                connection.close()
                if reused and not connection.received:
                    continue  # a kept-alive connection the server had already closed
                raise
            except BaseException:
                connection.close()
                raise
            return UpstreamResponse(connection, read_timeout)

    async def _acquire(self, key: _Key, connect_timeout: float | None) -> tuple[_Connection, bool]:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection, True
        tls, host, port, private_ok = key
        budget = self.connect_timeout if connect_timeout is None else connect_timeout
        try:
            return await asyncio.wait_for(self._connect(key, host, port, tls, private_ok), budget)
        except TimeoutError:
            raise UpstreamTimeout(f"connecting to the upstream took too long ({host})") from None

    async def _connect(
        self, key: _Key, host: str, port: int, tls: bool, private_ok: bool
    ) -> tuple[_Connection, bool]:
        loop = asyncio.get_running_loop()
        # The address vetted is the address connected to: no second lookup.
        targets = (
            [host] if self._addresses is None else await self._addresses.addresses(host, private_ok)
        )
        failure: BaseException | None = None
        for target in targets:
            try:
                transport, protocol = await loop.create_connection(
                    lambda: _Connection(self, key),
                    target,
                    port,
                    ssl=self._ssl_context() if tls else None,
                    server_hostname=host if tls else None,
                )
            except (OSError, ssl.SSLError) as exc:
                failure = exc
                continue
            # uvloop may hand the connection over before connection_made() has run.
            protocol.attach(transport)
            return protocol, False
        raise UpstreamConnectError(f"cannot connect to the upstream: {failure}") from None

    def _release(self, connection: _Connection) -> None:
        if self._closed or not connection.reusable():
            connection.close()
            return
        idle = self._idle.setdefault(connection.key, [])
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            connection.close()
            return
        connection.idle = True
        idle.append(connection)

    def _forget(self, connection: _Connection) -> None:
        idle = self._idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)

    async def close(self) -> None:
        """Close every idle connection; later requests fail."""
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

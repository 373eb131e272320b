"""A scriptable HTTP/1.1 server on a real loopback socket, for SDK tests.

Tests script what the server answers, one response per request, and inspect what
it received. It runs in background threads on ``127.0.0.1`` and a free port, uses
only the standard library, and speaks real HTTP/1.1 (keep-alive, ``Content-Length``
and chunked bodies in both directions), so the SDK's whole network path is
exercised — including faults that mocks cannot produce faithfully.

Use it through the ``scripted_server`` fixture (``tests/unitysvc/conftest.py``)::

    def test_retry_after(scripted_server):
        scripted_server.respond(503, headers={"Retry-After": "0"})
        scripted_server.respond(200, json={"ok": True})
        client = unitysvc.Client(base_url=scripted_server.url + "/v1", ...)
        ...
        assert [r.path for r in scripted_server.requests] == ["/v1/x", "/v1/x"]

API
---
``ScriptedServer()``
    ``start()`` / ``stop()`` or ``with ScriptedServer() as server:``. ``stop()``
    re-raises the first unexpected error of a server thread (a bug in the server or
    in a script), so failures never pass silently.
``server.url``
    ``"http://127.0.0.1:<port>"`` (also ``server.host``, ``server.port``).
``server.respond(status=200, *, headers=None, body=b"", json=..., chunked=None,
delay=0.0, reset_after=None, close_without_response=False, path=None,
method=None, times=1, gate_timeout=10.0) -> Script``
    Queue a response. Requests take the first queued script whose ``path`` (the
    URL path without query) and ``method`` match (``None`` matches anything);
    a script serves ``times`` requests (``None``: every matching request,
    forever). A request that matches no script gets a 500 whose body says so,
    and is listed in ``server.unscripted``.

    * ``headers``: a mapping or a list of ``(name, value)`` pairs (repeats allowed).
    * ``body``: ``bytes``, or a list of steps played in order:
      ``bytes`` — sent at once as one piece (one chunk when chunked);
      a number — pause that many seconds;
      a ``threading.Event`` — wait until the test sets it, which lets a test
      hold the body back until it has seen what came before, without timing
      guesses. If it is not set within ``gate_timeout`` seconds the connection
      is dropped and ``stop()`` raises, so a client that waits for the whole
      body fails instead of passing slowly.
    * ``json``: a JSON-serialisable body; sets ``Content-Type: application/json``.
    * ``chunked``: ``Transfer-Encoding: chunked`` instead of ``Content-Length``.
      Default: chunked when ``body`` is a list.
    * ``delay``: seconds to wait before sending anything (slow-response tests).
    * ``reset_after``: after this many body bytes (0: right after the headers),
      reset the connection with a TCP RST. The declared length/chunk sizes are
      those of the whole body, so the client sees a body cut short.
    * ``close_without_response``: read the request, then close the connection
      without a byte of response.
``server.requests``
    A copy of the :class:`RecordedRequest` list, in arrival order; each has
    ``method``, ``target``, ``path``, ``query`` (``dict[str, list[str]]``),
    ``headers`` (lower-cased names), ``raw_headers``, ``body``, ``json()``,
    ``received_at`` (``time.monotonic()``) and ``connection`` (the number of the
    TCP connection it came on, from 1).
``server.wait_for_requests(count, timeout=5.0)``
    Block until ``count`` requests arrived; return them.
``server.unused_scripts``
    Scripts with requests still to serve.
"""

from __future__ import annotations

import contextlib
import http
import json as jsonlib
import select
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["RecordedRequest", "Script", "ScriptedServer"]

BodyStep = bytes | float | int | threading.Event

_POLL = 0.05  # seconds between checks of the stop flag in blocking waits
_MAX_HEAD = 64 * 1024


class _ClientGone(Exception):
    """The peer closed the connection (or the server is stopping)."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes
    received_at: float
    connection: int

    def json(self) -> Any:
        """The body decoded as JSON."""
        return jsonlib.loads(self.body)


@dataclass
class Script:
    """A queued response; see :meth:`ScriptedServer.respond`."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: list[BodyStep] = field(default_factory=list)
    chunked: bool = False
    delay: float = 0.0
    reset_after: int | None = None
    close_without_response: bool = False
    path: str | None = None
    method: str | None = None
    times: int | None = 1
    gate_timeout: float = 10.0
    served: int = 0

    def matches(self, request: RecordedRequest) -> bool:
        """Whether this script answers ``request``."""
        if self.path is not None and self.path != request.path:
            return False
        return self.method is None or self.method.upper() == request.method


class _Reader:
    """Buffered reads from a socket that keep watching the server's stop flag."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self._sock = sock
        self._stopping = stopping
        self._buffer = bytearray()

    def _fill(self) -> None:
        # The socket stays blocking (a send must wait as long as the client does
        # not read); reads poll so that stop() is noticed.
        while not select.select([self._sock], [], [], _POLL)[0]:
            if self._stopping.is_set():
                raise _ClientGone
        try:
            data = self._sock.recv(65536)
        except OSError as exc:
            raise _ClientGone from exc
        if not data:
            raise _ClientGone
        self._buffer += data

    def until(self, marker: bytes, limit: int = _MAX_HEAD) -> bytes:
        """Read through ``marker``; return what precedes it."""
        while True:
            index = self._buffer.find(marker)
            if index >= 0:
                data = bytes(self._buffer[:index])
                del self._buffer[: index + len(marker)]
                return data
            if len(self._buffer) > limit:
                raise ValueError(f"no {marker!r} within {limit} bytes")
            self._fill()

    def exactly(self, size: int) -> bytes:
        """Read ``size`` bytes."""
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


class ScriptedServer:
    """A scriptable HTTP/1.1 server on 127.0.0.1; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._scripts: list[Script] = []
        self._requests: list[RecordedRequest] = []
        self._unscripted: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._connections = 0

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> ScriptedServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind a free port and start accepting connections."""
        listener = socket.create_server((self.host, 0))
        listener.settimeout(_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop, "scripted-server-accept")

    def stop(self) -> None:
        """Stop, close every connection, and re-raise a server thread's error."""
        self._stopping.set()
        if self._threads:
            with contextlib.suppress(OSError):  # wake the accept loop at once
                socket.create_connection((self.host, self.port), timeout=1).close()
            self._threads[0].join(timeout=5)  # the accept loop: no new connections
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            # Wake the connection's thread; that thread closes the socket.
            _shutdown_quietly(sock)
        for thread in self._threads[1:]:
            thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        if self._errors:
            raise RuntimeError("scripted server failed") from self._errors[0]

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=self._guard, args=(target, *args), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guard(self, target: Any, *args: Any) -> None:
        try:
            target(*args)
        except _ClientGone:
            pass
        except BaseException as exc:
            self._errors.append(exc)

    # -- scripting and inspection ----------------------------------------------------

    def respond(
        self,
        status: int = 200,
        *,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: bytes | Sequence[BodyStep] = b"",
        json: Any = ...,
        chunked: bool | None = None,
        delay: float = 0.0,
        reset_after: int | None = None,
        close_without_response: bool = False,
        path: str | None = None,
        method: str | None = None,
        times: int | None = 1,
        gate_timeout: float = 10.0,
    ) -> Script:
        """Queue a response; see the module docstring for every option."""
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or [])
        if json is not ...:
            body = jsonlib.dumps(json).encode()
            if not any(name.lower() == "content-type" for name, _ in pairs):
                pairs.append(("Content-Type", "application/json"))
        steps: list[BodyStep] = [body] if isinstance(body, bytes) else list(body)
        script = Script(
            status=status,
            headers=pairs,
            body=steps,
            chunked=(not isinstance(body, bytes)) if chunked is None else chunked,
            delay=delay,
            reset_after=reset_after,
            close_without_response=close_without_response,
            path=path,
            method=method,
            times=times,
            gate_timeout=gate_timeout,
        )
        with self._lock:
            self._scripts.append(script)
        return script

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def unscripted(self) -> list[RecordedRequest]:
        """Requests that matched no script (they were answered with a 500)."""
        with self._lock:
            return list(self._unscripted)

    @property
    def unused_scripts(self) -> list[Script]:
        """Scripts that still have requests to serve."""
        with self._lock:
            return list(self._scripts)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``count`` requests have arrived; return them all.

        Raises:
            TimeoutError: Fewer arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._requests)} of {count} requests arrived")
                self._arrived.wait(left)
            return list(self._requests)

    # -- serving ---------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed by stop()
            if self._stopping.is_set():  # the wake-up connection from stop()
                sock.close()
                return
            sock.settimeout(None)
            # Send each scripted piece as soon as it is written.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets.add(sock)
                self._connections += 1
                number = self._connections
            self._spawn(self._serve_connection, f"scripted-server-conn-{number}", sock, number)

    def _serve_connection(self, sock: socket.socket, number: int) -> None:
        reader = _Reader(sock, self._stopping)
        try:
            keep_open = True
            while keep_open:
                request = self._read_request(reader, number)
                keep_open = self._answer(sock, request)
        except OSError:
            pass  # the client went away mid-response: its side of the test decides
        finally:
            with self._lock:
                self._sockets.discard(sock)
            _shutdown_quietly(sock)
            sock.close()

    def _read_request(self, reader: _Reader, number: int) -> RecordedRequest:
        head = reader.until(b"\r\n\r\n").decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        raw_headers = []
        for line in header_lines:
            name, _, value = line.partition(":")
            raw_headers.append((name.strip(), value.strip()))
        headers: dict[str, str] = {}
        for name, value in raw_headers:
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = _read_chunked(reader)
        else:
            body = reader.exactly(int(headers.get("content-length", "0")))
        url = urlsplit(target)
        request = RecordedRequest(
            method=method.upper(),
            target=target,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=headers,
            raw_headers=raw_headers,
            body=body,
            received_at=time.monotonic(),
            connection=number,
        )
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
        return request

    def _take_script(self, request: RecordedRequest) -> Script:
        with self._lock:
            for index, script in enumerate(self._scripts):
                if script.matches(request):
                    script.served += 1
                    if script.times is not None and script.served >= script.times:
                        del self._scripts[index]
                    return script
            self._unscripted.append(request)
        detail = f"scripted_server: no response scripted for {request.method} {request.path}"
        return Script(
            status=500,
            headers=[("Content-Type", "application/json")],
            body=[jsonlib.dumps({"detail": detail}).encode()],
        )

    def _answer(self, sock: socket.socket, request: RecordedRequest) -> bool:
        """Play the script for ``request``; return whether the connection stays open."""
        script = self._take_script(request)
        self._pause(script.delay)
        if script.close_without_response:
            return False
        sock.sendall(_head(script))
        sent = 0
        for step in [] if request.method == "HEAD" else script.body:
            if isinstance(step, threading.Event):
                self._wait_gate(step, script.gate_timeout)
            elif isinstance(step, int | float):
                self._pause(float(step))
            elif step:
                piece = step
                if script.reset_after is not None and sent + len(piece) >= script.reset_after:
                    _send_piece(sock, piece, script.chunked, script.reset_after - sent)
                    _reset(sock)
                    return False
                _send_piece(sock, piece, script.chunked, len(piece))
                sent += len(piece)
        if script.reset_after is not None:
            _reset(sock)
            return False
        if script.chunked:
            sock.sendall(b"0\r\n\r\n")
        closing = "close" in (request.headers.get("connection", "").lower(), _connection(script))
        return not closing

    def _pause(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _ClientGone

    def _wait_gate(self, gate: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not gate.wait(_POLL):
            if self._stopping.is_set():
                raise _ClientGone
            if time.monotonic() >= deadline:
                # The test never opened the gate: fail loudly (stop() re-raises
                # this) rather than carry on and let a wrong client pass slowly.
                self._errors.append(TimeoutError(f"gate not set within {timeout} s"))
                raise _ClientGone


def _connection(script: Script) -> str:
    for name, value in script.headers:
        if name.lower() == "connection":
            return value.lower()
    return ""


def _head(script: Script) -> bytes:
    names = {name.lower() for name, _ in script.headers}
    headers = list(script.headers)
    if "content-length" not in names and "transfer-encoding" not in names:
        if script.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            length = sum(len(step) for step in script.body if isinstance(step, bytes))
            headers.append(("Content-Length", str(length)))
    try:
        reason = http.HTTPStatus(script.status).phrase
    except ValueError:
        reason = "Scripted"
    lines = [f"HTTP/1.1 {script.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send_piece(sock: socket.socket, piece: bytes, chunked: bool, limit: int) -> None:
    """Send ``piece`` (framed as one chunk if ``chunked``), cut after ``limit`` bytes."""
    prefix = f"{len(piece):x}\r\n".encode() if chunked else b""
    suffix = b"\r\n" if chunked and limit >= len(piece) else b""
    sock.sendall(prefix + piece[:limit] + suffix)


def _reset(sock: socket.socket) -> None:
    """Abort the connection with a TCP RST instead of an orderly close."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _read_chunked(reader: _Reader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int(reader.until(b"\r\n").split(b";", 1)[0], 16)
        if size == 0:
            while reader.until(b"\r\n"):  # trailers, up to the blank line
                pass
            return b"".join(parts)
        parts.append(reader.exactly(size))
        reader.exactly(2)


def _shutdown_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed or reset
        sock.shutdown(socket.SHUT_RDWR)

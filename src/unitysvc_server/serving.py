"""How the platform is served: uvicorn with an HTTP protocol that bounds what clients send.

uvicorn's fast HTTP/1.1 protocol (``httptools``) has no limit on the request line or the
headers: it buffers whatever arrives until the head is complete, before any application
code — authentication included — can refuse it. One 64 MiB header was read whole (6.8 s,
stalling other requests) and a 128 MiB one took the process from 145 to 392 MB. Nor does
it bound connections, or a client that opens one and trickles bytes (slowloris).

:func:`bounded_protocol` subclasses that protocol and meters every request head *before*
the parser sees the bytes: a request line longer than ``max_request_line_bytes`` is
answered 414, a header line longer than ``max_header_bytes``, headers longer than
``max_headers_bytes`` together or more than ``max_header_count`` of them 431 — each with
``Connection: close``, and nothing more is read. A connection beyond ``max_connections``
is answered 503 and closed at once. A client must send a request's head within
``client_timeout`` seconds of starting it (408 and close otherwise), and may not fall
silent for longer than that while sending a body (the connection is closed). The limits
are :class:`~unitysvc_server.config.Settings` fields and ``usvc server start`` options.

The meter scans only head bytes, with ``bytes.find`` per line, so a normal request costs
a few microseconds. A pipelined request whose head arrives in the same read as the end of
the previous request is metered from the next read on, in total bytes only: it may
exceed the per-line limits by at most one read (256 KiB), never without bound.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from unitysvc_server.config import Settings

logger = logging.getLogger("unitysvc_server.serving")

__all__ = ["bounded_protocol", "uvicorn_options"]


def _response(status: int, reason: str, detail: str) -> bytes:
    body = ('{"detail": "' + detail + '"}').encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


def bounded_protocol(settings: Settings) -> type[Any]:
    """uvicorn's ``httptools`` protocol with the limits of ``settings`` (see module docs)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    max_line = settings.max_request_line_bytes
    max_header = settings.max_header_bytes
    max_headers = settings.max_headers_bytes
    max_count = settings.max_header_count
    max_connections = settings.max_connections
    timeout = settings.client_timeout
    too_long_uri = _response(
        414, "URI Too Long", f"the request line exceeds {max_line} bytes; shorten the URL"
    )
    header_too_large = _response(
        431,
        "Request Header Fields Too Large",
        f"request headers exceed the server's limits ({max_header} bytes per header, "
        f"{max_headers} bytes and {max_count} headers in all)",
    )
    too_many = _response(
        503,
        "Service Unavailable",
        f"the server holds its maximum of {max_connections} connections; retry shortly",
    )
    too_slow = _response(
        408,
        "Request Timeout",
        f"the request headers did not arrive within {timeout:g} seconds",
    )

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """See :mod:`unitysvc_server.serving`."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True  # the bytes that arrive next belong to a request head
            self._resync = False  # ... from an unknown point of it (pipelining)
            self._line = 0  # bytes of the current head line so far
            self._lines = 0  # complete head lines (the request line first)
            self._head_bytes = 0  # header bytes (request line excluded)
            self._feeding = False
            self._completed_in_feed = False
            self._timer: asyncio.TimerHandle | None = None
            self._refused = False

        # -- connections ---------------------------------------------------------------

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                self._refuse(too_many)
                return
            self._arm(self._head_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _refuse(self, response: bytes) -> None:
            self._refused = True
            self._disarm()
            if not self.transport.is_closing():
                if self.cycle is None or self.cycle.response_complete:
                    self.transport.write(response)
                self.transport.close()

        # -- timers --------------------------------------------------------------------

        def _arm(self, callback: Any) -> None:
            self._disarm()
            self._timer = self.loop.call_later(timeout, callback)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _head_timeout(self) -> None:
            self._timer = None
            if self._in_head or self._resync:
                if self.cycle is not None and not self.cycle.response_complete:
                    self._arm(self._head_timeout)  # answer the request in flight first
                    return
                self._refuse(too_slow)

        def _body_timeout(self) -> None:
            self._timer = None
            # Silent for the whole timeout in the middle of a body: let it go.
            self._refuse(b"")

        # -- bytes in ------------------------------------------------------------------

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._in_head and not self._resync and self._lines == 0 and self._line == 0:
                self._arm(self._head_timeout)  # a new request starts now
            verdict = self._meter(data)
            if verdict is not None:
                self._refuse(verdict)
                return
            self._feeding = True
            self._completed_in_feed = False
            try:
                super().data_received(data)
            finally:
                self._feeding = False
            if not self._in_head and self.cycle is not None and self.cycle.more_body:
                self._arm(self._body_timeout)

        def _meter(self, data: bytes) -> bytes | None:
            """Account for the head bytes in ``data``; a response when a limit is crossed."""
            if self._resync:
                self._head_bytes += len(data)
                return header_too_large if self._head_bytes > max_headers else None
            if not self._in_head:
                return None
            start = 0
            end = len(data)
            while start < end:
                newline = data.find(b"\n", start)
                stop = end if newline == -1 else newline
                self._line += stop - start
                if self._lines > 0:
                    self._head_bytes += stop - start + (newline != -1)
                if self._lines == 0:
                    if self._line > max_line:
                        return too_long_uri
                elif self._line > max_header or self._head_bytes > max_headers:
                    return header_too_large
                if newline == -1:
                    return None
                if self._line <= 1:  # an empty line ("\r\n" or "\n")
                    if self._lines > 0:
                        # The end of the head: the rest is body.
                        self._in_head = False
                        return None
                    start = newline + 1  # blank lines before a request line are allowed
                    self._line = 0
                    continue
                if self._lines > max_count:
                    return header_too_large
                self._lines += 1
                self._line = 0
                start = newline + 1
            return None

        # -- parser callbacks ----------------------------------------------------------

        def on_message_begin(self) -> None:
            if self._feeding and self._completed_in_feed:
                # A pipelined request began in the same read the previous one ended in,
                # at an offset the meter did not see: count its head from the next read,
                # in total bytes.
                self._resync = True
                self._head_bytes = 0
                self._arm(self._head_timeout)
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._resync = False
            self._disarm()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()
            # The next request's head starts with the next byte.
            self._in_head = True
            self._line = 0
            self._lines = 0
            self._head_bytes = 0
            self._completed_in_feed = self._feeding

    return BoundedHttpToolsProtocol


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments that apply the limits of ``settings``."""
    return {"http": bounded_protocol(settings)}

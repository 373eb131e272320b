"""uvicorn's ``httptools`` protocol metering request heads: see :mod:`unitysvc_server.serving`.

Imported only when a server starts (it loads uvicorn); :func:`unitysvc_server.serving.
bounded_protocol` subclasses :class:`BoundedHttpToolsProtocol` with a settings' limits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["BoundedHttpToolsProtocol", "HeadLimits"]


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """What a client may send, and the responses that refuse more (see ``serving``)."""

    max_line: int
    max_header: int
    max_headers: int
    max_count: int
    max_connections: int
    timeout: float
    too_long_uri: bytes
    header_too_large: bytes
    too_many: bytes
    too_slow: bytes


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """See :mod:`unitysvc_server.serving`; :attr:`limits` is set by a subclass."""

    limits: HeadLimits

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
        if len(self.connections) > self.limits.max_connections:
            self._refuse(self.limits.too_many)
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
        self._timer = self.loop.call_later(self.limits.timeout, callback)

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
            self._refuse(self.limits.too_slow)

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
            return (
                self.limits.header_too_large if self._head_bytes > self.limits.max_headers else None
            )
        start = 0
        end = len(data)
        while self._in_head and start < end:
            newline = data.find(b"\n", start)
            verdict = self._meter_line(end if newline == -1 else newline, start, newline != -1)
            if verdict is not None or newline == -1:
                return verdict
            start = newline + 1
        return None

    def _meter_line(self, stop: int, start: int, complete: bool) -> bytes | None:
        """Account for one (part of a) head line, ``data[start:stop]``."""
        limits = self.limits
        self._line += stop - start
        if self._lines > 0:
            self._head_bytes += stop - start + complete
        if self._lines == 0:
            if self._line > limits.max_line:
                return limits.too_long_uri
        elif self._line > limits.max_header or self._head_bytes > limits.max_headers:
            return limits.header_too_large
        if not complete:
            return None
        if self._line <= 1:  # an empty line ("\r\n" or "\n")
            if self._lines > 0:
                # The end of the head: the rest is body.
                self._in_head = False
            else:
                self._line = 0  # blank lines before a request line are allowed
            return None
        if self._lines > limits.max_count:
            return limits.header_too_large
        self._lines += 1
        self._line = 0
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

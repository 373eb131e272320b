"""The benches' fake upstream: OpenAI-shaped answers at the least CPU per request.

Every gateway in ``bench_gateway.py`` and ``bench_control_plane.py`` (ours, Portkey's,
LiteLLM's, and "direct") is measured against this one process. It answers any method and
path on HTTP/1.1 with keep-alive (request bodies by Content-Length or chunked):

* a path ending in ``/sse``, or a JSON body whose ``"stream"`` is ``true``: three
  ``chat.completion.chunk`` SSE events then ``data: [DONE]``, chunked, ``text/event-stream``;
* a path with ``/big/<n>``: ``n`` bytes of ``x``, ``application/octet-stream`` with a
  Content-Length, written as the socket drains (the 1 GiB stream through the gateway);
* anything else: one complete OpenAI chat completion (so OpenAI clients, LiteLLM's
  included, accept it), ``application/json`` with a Content-Length.

The bytes are those the earlier uvicorn + ASGI version sent (status line, ``date``,
``content-type``, ``content-length`` or ``transfer-encoding: chunked``, chunk framing,
bodies), less its ``server: uvicorn`` header. It does not answer ``Expect: 100-continue``
(no client of the benches sends it) nor upgrades.

Why by hand, on ``asyncio.Protocol`` + uvloop + ``httptools.HttpRequestParser`` (both come
with ``uvicorn[standard]``, already a project dependency), and not on a server library:
on the 2-core bench machine the upstream's CPU comes out of the cores the gateway is
measured on, so it bounds what ``--workers 2`` can show (``bench_control_plane.ceiling``).
Straight from wrk at concurrency 20, the uvicorn + ASGI version took 57 µs of CPU per
request (0.13 ms per gateway request in ``bench_control_plane.py``'s workers row), for an
ASGI cycle per request (a task, receive/send messages, header lists) around what here is
one parser feed and one ``transport.write`` of bytes built once a second: 14 µs. granian's
RSGI interface (a Rust server calling a Python handler per request), tried the same way,
took 67 µs; and a server library would be one more thing for the benches to install.

Run as its own process (its CPU is then counted apart from the gateway's)::

    python bench/_upstream.py --port 8999 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
from email.utils import formatdate
from typing import cast

import httptools
import uvloop

# A complete OpenAI chat completion, so OpenAI clients (LiteLLM's) accept it as is.
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-echo",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    },
    separators=(",", ":"),
).encode()
SSE_EVENT = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench-echo","choices":[{"index":0,"delta":{"content":"%d"}}]}\n\n'
)
SSE_DONE = b"data: [DONE]\n\n"
#: The whole SSE body in HTTP/1.1 chunked framing: one chunk per event, then the last.
SSE_BODY = (
    b"".join(
        b"%x\r\n%s\r\n" % (len(event), event)
        for event in [*(SSE_EVENT % i for i in range(3)), SSE_DONE]
    )
    + b"0\r\n\r\n"
)
BIG_CHUNK = b"x" * (256 * 1024)

_STATUS = b"HTTP/1.1 200 OK\r\ndate: %s\r\n"
_JSON_HEAD = b"content-type: application/json\r\ncontent-length: %d\r\n" % len(COMPLETION)
_SSE_HEAD = b"content-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
_BIG_HEAD = b"content-type: application/octet-stream\r\ncontent-length: %d\r\n"
_CLOSE = b"connection: close\r\n"
_ERROR = (
    b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s"
)


class _Answers:
    """The responses' bytes, rebuilt once a second for the ``date`` header: each head
    without the blank line that ends it (so ``connection: close`` can follow), and the
    whole keep-alive answers."""

    def __init__(self) -> None:
        self.status = self.completion_head = self.sse_head = b""
        self.completion = self.sse = b""
        self.refresh()

    def refresh(self) -> None:
        self.status = _STATUS % formatdate(usegmt=True).encode()
        self.completion_head = self.status + _JSON_HEAD
        self.sse_head = self.status + _SSE_HEAD
        self.completion = self.completion_head + b"\r\n" + COMPLETION
        self.sse = self.sse_head + b"\r\n" + SSE_BODY


ANSWERS = _Answers()


_REASONS = {400: b"Bad Request", 500: b"Internal Server Error"}


def _error(code: int, text: bytes) -> bytes:
    return _ERROR % (code, _REASONS[code], len(text), text)


def wants_stream(body: bytes) -> bool:
    """Whether a request body is JSON with ``"stream": true`` (as OpenAI reads it)."""
    if b'"stream"' not in body:
        return False
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("stream") is True


class UpstreamProtocol(asyncio.Protocol):
    """One connection: parse requests as they come, answer each when it is complete."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body = b""
        # A /big/ answer being written: bytes left, and answers queued behind it
        # (pipelined requests) as bytes or as more big sizes.
        self.big_left = 0
        self.big_close = False
        self.queued: list[tuple[bytes, int, bool]] = []
        self.paused = False

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are asyncio.Transport in behaviour, not by class.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, b"Unsupported upgrade request.")
        except httptools.HttpParserError:
            self._fail(400, b"Invalid HTTP request received.")

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._write_big()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    # -- httptools callbacks ------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        url, body = self.url, self.body
        self.url = self.body = b""
        close = not self.parser.should_keep_alive()
        if b"?" in url:
            url = url.split(b"?", 1)[0]
        if url.endswith(b"/sse") or wants_stream(body):
            if close:
                self._answer(ANSWERS.sse_head + _CLOSE + b"\r\n" + SSE_BODY, 0, close)
            else:
                self._answer(ANSWERS.sse, 0, close)
        elif b"/big/" in url:
            try:
                size = int(url.rsplit(b"/", 1)[1])
            except ValueError:
                self._fail(500, b"Internal Server Error")
                return
            head = ANSWERS.status + _BIG_HEAD % size + (_CLOSE if close else b"") + b"\r\n"
            self._answer(head, size, close)
        elif close:
            self._answer(ANSWERS.completion_head + _CLOSE + b"\r\n" + COMPLETION, 0, close)
        else:
            self._answer(ANSWERS.completion, 0, close)

    # -- writing ------------------------------------------------------------------------

    def _answer(self, data: bytes, big: int, close: bool) -> None:
        """Write ``data`` (a whole answer, or the head of ``big`` bytes of ``x``), or queue
        it behind the big answer being written; then close if the request asked to."""
        transport = self.transport
        if transport is None:
            return
        if self.big_left or self.queued:
            self.queued.append((data, big, close))
            return
        transport.write(data)
        if big:
            self.big_left, self.big_close = big, close
            self._write_big()
        elif close:
            transport.close()

    def _write_big(self) -> None:
        transport = self.transport
        while transport is not None and not self.paused:
            if self.big_left:
                piece = BIG_CHUNK if self.big_left >= len(BIG_CHUNK) else BIG_CHUNK[: self.big_left]
                self.big_left -= len(piece)
                transport.write(piece)
                if not self.big_left and self.big_close:
                    transport.close()
                    return
            elif self.queued:
                head, big, close = self.queued.pop(0)
                transport.write(head)
                if big:
                    self.big_left, self.big_close = big, close
                elif close:
                    transport.close()
                    return
            else:
                return

    def _fail(self, code: int, text: bytes) -> None:
        if self.transport is not None:
            self.transport.write(_error(code, text))
            self.transport.close()


async def serve(host: str, port: int) -> None:
    """Listen on ``host:port`` until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()

    def tick() -> None:
        ANSWERS.refresh()
        loop.call_later(1.0, tick)

    loop.call_later(1.0, tick)
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=2048)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """``python bench/_upstream.py --port N [--host H]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

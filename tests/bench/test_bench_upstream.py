"""``bench/_upstream.py``, the benches' fake upstream, on a real socket: its answers'
bytes, keep-alive, bodies by Content-Length or chunked, pipelining and ``Connection: close``."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
BODY = b'{"model":"bench-echo","messages":[{"role":"user","content":"hello"}]}'
STREAM_BODY = b'{"model":"bench-echo","stream":true,"messages":[{"role":"user","content":"hi"}]}'


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    # The bench imports its sibling modules as a script run from bench/ would.
    sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location("bench_gateway", BENCH_DIR / "bench_gateway.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_gateway"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def port(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with ExitStack() as stack:
        yield bench.start_upstream(stack, tmp_path_factory.mktemp("upstream"))


def _post(path: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: up\r\nContent-Length: %d\r\n%s\r\n%s" % (
        path,
        len(body),
        extra,
        body,
    )


def _chunked(path: bytes, body: bytes) -> bytes:
    half = len(body) // 2
    return b"POST %s HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n%s0\r\n\r\n" % (
        path,
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:])),
    )


class _Reader:
    """Reads answers off one connection, one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError
        self.buffer += data

    def take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        data, self.buffer = self.buffer.split(b"\r\n", 1)
        return data

    def answer(self) -> tuple[bytes, bytes]:
        """The head (date blanked) and the body, de-chunked when chunked."""
        lines = []
        while line := self.line():
            lines.append(line)
        head = re.sub(rb"date: [^\r\n]+", b"date: -", b"\r\n".join(lines))
        length = re.search(rb"content-length: (\d+)", head)
        if length:
            return head, self.take(int(length.group(1)))
        assert b"transfer-encoding: chunked" in head
        body = b""
        while size := int(self.line(), 16):
            body += self.take(size)
            assert self.line() == b""
        assert self.line() == b""
        return head, body

    def closed(self) -> bool:
        try:
            self._fill()
        except EOFError:
            return True
        return False


@pytest.fixture
def conn(port: int) -> Iterator[tuple[socket.socket, _Reader]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        yield sock, _Reader(sock)


JSON_HEAD = b"HTTP/1.1 200 OK\r\ndate: -\r\ncontent-type: application/json\r\ncontent-length: 252"
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ndate: -\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked"
)


def _completion_ok(body: bytes) -> None:
    answer = json.loads(body)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "hi"}
    assert answer["usage"]["total_tokens"] == 6


def _events_ok(body: bytes) -> None:
    events = body.split(b"\n\n")
    assert events[-2:] == [b"data: [DONE]", b""]
    chunks = [json.loads(event.removeprefix(b"data: ")) for event in events[:-2]]
    assert [c["choices"][0]["delta"]["content"] for c in chunks] == ["0", "1", "2"]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}


def test_keep_alive_pair(conn: tuple[socket.socket, _Reader]) -> None:
    sock, reader = conn
    for _ in range(2):
        sock.sendall(_post(b"/v1/chat/completions", BODY))
        head, body = reader.answer()
        assert head == JSON_HEAD
        _completion_ok(body)


def test_chunked_stream_body_gets_sse(conn: tuple[socket.socket, _Reader]) -> None:
    sock, reader = conn
    sock.sendall(_chunked(b"/v1/chat/completions", STREAM_BODY))
    head, body = reader.answer()
    assert head == SSE_HEAD
    _events_ok(body)
    # A chunked body without "stream": true, on the same connection: JSON.
    sock.sendall(_chunked(b"/v1/chat/completions", BODY))
    head, body = reader.answer()
    assert head == JSON_HEAD
    _completion_ok(body)


def test_pipelined_paths(conn: tuple[socket.socket, _Reader]) -> None:
    sock, reader = conn
    sock.sendall(
        b"GET /v1/sse HTTP/1.1\r\nHost: up\r\n\r\n"
        b"GET /big/600000?x=1 HTTP/1.1\r\nHost: up\r\n\r\n"
        + _post(b"/v1/chat/completions", b'{"stream": false}')
    )
    head, body = reader.answer()
    assert head == SSE_HEAD
    _events_ok(body)
    head, body = reader.answer()
    assert head == (
        b"HTTP/1.1 200 OK\r\ndate: -\r\ncontent-type: application/octet-stream\r\n"
        b"content-length: 600000"
    )
    assert body == b"x" * 600000
    head, body = reader.answer()
    assert head == JSON_HEAD
    _completion_ok(body)


def test_connection_close_is_honoured(conn: tuple[socket.socket, _Reader]) -> None:
    sock, reader = conn
    sock.sendall(_post(b"/v1/chat/completions", BODY, b"Connection: close\r\n"))
    head, body = reader.answer()
    assert head == JSON_HEAD + b"\r\nconnection: close"
    _completion_ok(body)
    assert reader.closed()


def test_a_malformed_request_is_refused(conn: tuple[socket.socket, _Reader]) -> None:
    sock, reader = conn
    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    head, body = reader.answer()
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert body == b"Invalid HTTP request received."
    assert reader.closed()

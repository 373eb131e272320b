"""StreamingResponse / AsyncStreamingResponse over real loopback sockets.

Each test body runs twice, against the sync class and against the async class
(driven through :class:`AsyncView`, which steps its coroutines on one event
loop), so both flavours are held to the same behaviour. A few native
``async with`` / ``async for`` tests check the async spelling itself.

Laziness is proven with the server's script, not with timings: the server holds
the rest of the body behind a ``threading.Event`` that the test sets only after
it has received the first event; a client that waited for the whole body would
never get that far (and the server fails the test when the gate times out).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from _servers import ScriptedServer

from unitysvc import AsyncStreamingResponse, StreamEvent, StreamingResponse
from unitysvc.exceptions import APIConnectionError, APITimeoutError

T = TypeVar("T")

SSE = {"Content-Type": "text/event-stream"}


def frame(data: str, **fields: str) -> bytes:
    head = "".join(f"{name}: {value}\n" for name, value in fields.items())
    return f"{head}data: {data}\n\n".encode()


class AsyncView:
    """Presents an AsyncStreamingResponse with the sync class's face."""

    def __init__(self, response: AsyncStreamingResponse, runner: asyncio.Runner) -> None:
        self._response = response
        self._run = runner.run

    def _await(self, awaitable: Awaitable[T]) -> T:
        async def wait() -> T:
            return await awaitable

        return self._run(wait())

    def __enter__(self) -> AsyncView:
        self._await(self._response.__aenter__())
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._await(self._response.__aexit__(*exc_info))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    def _steps(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._await(iterator.__anext__())
            except StopAsyncIteration:
                return

    def __iter__(self) -> Iterator[StreamEvent]:
        return self._steps(self._response.__aiter__())

    def iter_events(self) -> Iterator[StreamEvent]:
        return self._steps(self._response.iter_events())

    def iter_lines(self) -> Iterator[str]:
        return self._steps(self._response.iter_lines())

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        return self._steps(self._response.iter_bytes(chunk_size))

    def read(self) -> bytes:
        return self._await(self._response.aread())

    def close(self) -> None:
        self._await(self._response.aclose())


Opener = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def open_stream(
    request: pytest.FixtureRequest, scripted_server: ScriptedServer
) -> Iterator[Opener]:
    """``open_stream(path, method="GET", **kwargs)`` -> a (sync-faced) streaming response."""
    base = scripted_server.url
    if request.param == "sync":
        with httpx.Client(base_url=base) as client:

            def open_sync(path: str, method: str = "GET", **kwargs: Any) -> Any:
                return StreamingResponse(client, method, path, kwargs)

            yield open_sync
        return
    with asyncio.Runner() as runner:
        aclient = httpx.AsyncClient(base_url=base)

        def open_async(path: str, method: str = "GET", **kwargs: Any) -> Any:
            return AsyncView(AsyncStreamingResponse(aclient, method, path, kwargs), runner)

        yield open_async
        runner.run(aclient.aclose())


def test_status_and_headers_before_any_body_byte(
    scripted_server: ScriptedServer, open_stream: Opener
) -> None:
    gate = threading.Event()
    scripted_server.respond(
        201, headers={**SSE, "X-Request-Id": "req_1"}, body=[gate, frame('{"n": 1}')]
    )
    with open_stream("/stream") as response:
        assert response.status_code == 201
        assert response.headers["x-request-id"] == "req_1"
        assert response.response.status_code == 201
        gate.set()
        assert [e.parsed for e in response.iter_events()] == [{"n": 1}]


def test_first_event_arrives_before_the_rest_is_sent(
    scripted_server: ScriptedServer, open_stream: Opener
) -> None:
    gate = threading.Event()
    scripted_server.respond(
        headers=SSE,
        body=[frame('{"n": 1}', event="delta", id="1"), gate, frame('{"n": 2}'), frame("[DONE]")],
    )
    with open_stream("/stream", method="POST", json={"q": 1}) as response:
        events = iter(response)
        first = next(events)
        # The server is still blocked on the gate: nothing after frame 1 was sent.
        assert (first.kind, first.parsed, first.event, first.id) == ("sse", {"n": 1}, "delta", "1")
        gate.set()
        rest = list(events)
    assert [(e.kind, e.parsed, e.id) for e in rest] == [("sse", {"n": 2}, "1"), ("done", None, "1")]
    (received,) = scripted_server.requests
    assert (received.method, received.path, received.json()) == ("POST", "/stream", {"q": 1})


def test_done_stops_iteration(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    gate = threading.Event()  # never set: the client must not read past [DONE]
    scripted_server.respond(headers=SSE, body=[frame("1") + frame("[DONE]"), gate, frame("after")])
    with open_stream("/stream") as response:
        assert [e.kind for e in response.iter_events()] == ["sse", "done"]


def test_frames_split_across_network_chunks(
    scripted_server: ScriptedServer, open_stream: Opener
) -> None:
    body = frame('{"text": "héllo"}', event="message") + b": ping\r\n\r\n" + frame("plain")
    pieces: list[Any] = []
    for i in range(0, len(body), 3):
        pieces += [body[i : i + 3], 0.001]
    scripted_server.respond(
        headers={"Content-Type": "Text/Event-Stream; charset=utf-8"}, body=pieces
    )
    with open_stream("/stream") as response:
        events = list(response.iter_events())
    assert [(e.parsed, e.event) for e in events] == [
        ({"text": "héllo"}, "message"),
        ("plain", None),
    ]


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/x-ndjson", [("ndjson", {"a": 1}, None), ("ndjson", [2], None)]),
        ("application/jsonl", [("ndjson", {"a": 1}, None), ("ndjson", [2], None)]),
        ("text/plain", [("line", None, '{"a": 1}'), ("line", None, ""), ("line", None, "[2]")]),
    ],
)
def test_line_based_kinds(
    scripted_server: ScriptedServer,
    open_stream: Opener,
    content_type: str,
    expected: list[tuple[str, Any, str | None]],
) -> None:
    scripted_server.respond(
        headers={"Content-Type": content_type}, body=[b'{"a": 1}\r\n\r', b"\n[2]"]
    )
    with open_stream("/stream") as response:
        events = list(response.iter_events())
    got = [(e.kind, e.parsed, e.text if e.kind == "line" else None) for e in events]
    assert got == expected


def test_bytes_kind_for_other_types(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    gate = threading.Event()
    scripted_server.respond(
        headers={"Content-Type": "application/octet-stream"}, body=[b"\x00\x01", gate, b"\x02"]
    )
    with open_stream("/blob") as response:
        events = iter(response.iter_events())
        assert next(events) == StreamEvent("bytes", None, b"\x00\x01")
        gate.set()
        assert b"".join(e.raw for e in events) == b"\x02"


def test_iter_bytes_with_chunk_size(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    body = bytes(range(256)) * 40
    scripted_server.respond(body=[body[:1000], body[1000:1001], body[1001:]])
    with open_stream("/blob") as response:
        chunks = list(response.iter_bytes(chunk_size=4096))
    assert [len(c) for c in chunks] == [4096, 4096, 2048]
    assert b"".join(chunks) == body


def test_iter_bytes_as_received(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    gate = threading.Event()
    scripted_server.respond(body=[b"first", gate, b"second"])
    with open_stream("/blob") as response:
        chunks = response.iter_bytes()
        assert next(chunks) == b"first"
        gate.set()
        assert b"".join(chunks) == b"second"


def test_iter_lines(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    scripted_server.respond(
        headers={"Content-Type": "text/plain; charset=latin-1"}, body=[b"caf\xe9\r", b"\nb\rc"]
    )
    with open_stream("/text") as response:
        assert list(response.iter_lines()) == ["café", "b", "c"]


def test_read(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    scripted_server.respond(body=[b"a" * 10_000, b"b"])
    with open_stream("/blob") as response:
        assert response.read() == b"a" * 10_000 + b"b"


def test_connection_reset_mid_body(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    gate = threading.Event()
    first = frame('{"n": 1}')
    scripted_server.respond(
        headers=SSE,
        body=[first, gate, frame('{"n": 2}') * 100],
        reset_after=len(first) + 10,
    )
    with open_stream("/stream") as response:
        events = iter(response.iter_events())
        assert next(events).parsed == {"n": 1}
        gate.set()
        with pytest.raises(APIConnectionError) as caught:
            list(events)
    assert not isinstance(caught.value, APITimeoutError)
    message = str(caught.value)
    assert "GET http://127.0.0.1" in message and "/stream" in message
    assert "while reading the streamed body" in message
    assert isinstance(caught.value.__cause__, httpx.TransportError)


def test_read_timeout_mid_body(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    gate = threading.Event()
    scripted_server.respond(headers=SSE, body=[frame("1"), gate, frame("2")])
    with open_stream("/stream", timeout=httpx.Timeout(5.0, read=0.2)) as response:
        events = iter(response.iter_events())
        assert next(events).parsed == 1
        with pytest.raises(APITimeoutError, match="timed out while reading the streamed body"):
            next(events)
    gate.set()


def test_no_response_at_all_is_a_connection_error(
    scripted_server: ScriptedServer, open_stream: Opener
) -> None:
    scripted_server.respond(close_without_response=True)
    with pytest.raises(APIConnectionError, match="while opening the stream"), open_stream("/s"):
        pass


def test_use_outside_with_is_refused(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    scripted_server.respond(headers=SSE, body=frame("1"))
    response = open_stream("/stream")
    with pytest.raises(RuntimeError, match="is not open: use it as `(async )?with"):
        _ = response.status_code
    with pytest.raises(RuntimeError, match="with"):
        response.iter_events()
    with response:
        assert [e.parsed for e in response] == [1]
    with pytest.raises(RuntimeError, match="not open"):
        _ = response.headers
    assert scripted_server.requests[0].path == "/stream"


def test_close_inside_the_block(scripted_server: ScriptedServer, open_stream: Opener) -> None:
    scripted_server.respond(headers=SSE, body=[frame("1"), frame("2")])
    with open_stream("/stream") as response:
        assert next(iter(response)).parsed == 1
        response.close()
        with pytest.raises(RuntimeError, match="not open"):
            response.iter_events()


def test_send_options_and_request_kwargs(
    scripted_server: ScriptedServer, open_stream: Opener
) -> None:
    scripted_server.respond(302, headers={"Location": "/elsewhere"})
    scripted_server.respond(headers=SSE, body=frame("moved"), path="/elsewhere")
    kwargs = {"headers": {"X-Trace": "t"}, "params": {"q": "a b"}, "follow_redirects": True}
    with open_stream("/stream", **kwargs) as response:
        assert [e.parsed for e in response] == ["moved"]
    first, second = scripted_server.requests
    assert (first.path, first.query, first.headers["x-trace"]) == ("/stream", {"q": ["a b"]}, "t")
    assert second.path == "/elsewhere"


def test_opener_replaces_the_default_send(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(headers=SSE, body=frame("from opener"))
    with httpx.Client() as client:

        def opener() -> httpx.Response:
            request = client.build_request("GET", scripted_server.url + "/opened")
            return client.send(request, stream=True)

        with StreamingResponse(client, "POST", "ignored", {}, opener=opener) as response:
            assert [e.text for e in response] == ["from opener"]
    assert scripted_server.requests[0].method == "GET"


# -- native async spelling -------------------------------------------------------------


async def test_async_with_and_async_for(scripted_server: ScriptedServer) -> None:
    gate = threading.Event()
    scripted_server.respond(headers=SSE, body=[frame('{"n": 1}'), gate, frame("[DONE]")])
    async with (
        httpx.AsyncClient() as client,
        AsyncStreamingResponse(client, "GET", scripted_server.url + "/s", {}) as response,
    ):
        assert response.status_code == 200
        kinds = []
        async for event in response:
            kinds.append(event.kind)
            gate.set()
    assert kinds == ["sse", "done"]


async def test_async_aiter_names_and_opener(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(headers={"Content-Type": "text/plain"}, body=[b"a\nb"])
    scripted_server.respond(body=b"xyz")
    async with httpx.AsyncClient(base_url=scripted_server.url) as client:

        async def opener() -> httpx.Response:
            return await client.send(client.build_request("GET", "/one"), stream=True)

        async with AsyncStreamingResponse(client, "GET", "", {}, opener=opener) as response:
            assert [line async for line in response.aiter_lines()] == ["a", "b"]
        async with AsyncStreamingResponse(client, "GET", "/two", {}) as response:
            assert [e.raw async for e in response.aiter_events()] == [b"xyz"]
        assert AsyncStreamingResponse.iter_events is AsyncStreamingResponse.aiter_events
    assert [r.path for r in scripted_server.requests] == ["/one", "/two"]

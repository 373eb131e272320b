"""Streaming responses for ``Services.stream`` / ``Groups.stream`` (and the async siblings).

A streaming response opens the HTTP request when its ``with`` / ``async with``
block is entered: status and headers are readable at once, and the body is read
lazily, chunk by chunk, as the caller iterates. ``iter_events()`` cuts the body
into :class:`StreamEvent` objects according to its Content-Type (SSE, NDJSON,
text lines or raw bytes).

All decoding lives in :mod:`unitysvc._sse`; the two classes here only move
bytes from httpx into those decoders, so the sync and the async flavour cannot
drift apart. Network failures while reading the body are raised as
:class:`~unitysvc.exceptions.APIConnectionError` /
:class:`~unitysvc.exceptions.APITimeoutError`, never as raw httpx errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx

from unitysvc._core import connection_error
from unitysvc._sse import (
    Decoder,
    EventDecoder,
    StreamEvent,
    TextLineDecoder,
    pieces,
    text_encoding,
)

__all__ = ["AsyncStreamingResponse", "StreamEvent", "StreamingResponse"]

T = TypeVar("T")

# ``httpx.Client.send`` options that ``build_request`` does not take.
_SEND_OPTIONS = ("auth", "follow_redirects")


class _Chunks:
    """Hands raw body chunks through unchanged (``iter_bytes``)."""

    __slots__ = ()

    finished = False
    piece_size = None

    def feed(self, chunk: bytes) -> list[bytes]:
        return [chunk] if chunk else []

    def flush(self) -> list[bytes]:
        return []


#: Per stage: where the failure happened, and what to do about it.
_STAGES = {
    "open": ("while opening the stream", "check the URL and that the server is running"),
    "body": ("while reading the streamed body", "the stream is incomplete; send the request again"),
}


@contextmanager
def _sdk_errors(request: httpx.Request | None, stage: Literal["open", "body"]) -> Iterator[None]:
    """Raise httpx's network errors as the SDK's, naming the request and the stage."""
    try:
        yield
    except httpx.RequestError as exc:
        where, advice = _STAGES[stage]
        raise connection_error(request, exc, where=where, advice=advice) from exc


class _StreamBase:
    """What the sync and async streaming responses share: state, properties, decoders."""

    __slots__ = ("_client", "_kwargs", "_method", "_opener", "_request", "_response", "_url")

    _enter_hint = "with"

    def __init__(
        self,
        httpx_client: Any,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        opener: Callable[[], Any] | None,
    ) -> None:
        self._client = httpx_client
        self._method = method
        self._url = url
        self._kwargs = kwargs
        self._opener = opener
        self._request: httpx.Request | None = None
        self._response: httpx.Response | None = None

    def __repr__(self) -> str:
        # The query is left out: it may carry tokens.
        if self._request is not None:
            target = f"{self._request.method} {self._request.url.copy_with(query=None)}"
        else:
            target = f"{self._method} {self._url.partition('?')[0] or '(set by the opener)'}"
        state = "not open" if self._response is None else f"status {self._response.status_code}"
        return f"<{type(self).__name__} {target} {state}>"

    @property
    def response(self) -> httpx.Response:
        """The underlying ``httpx.Response``. Only valid inside the ``with`` block."""
        if self._response is None:
            name = type(self).__name__
            raise RuntimeError(
                f"{name} is not open: use it as `{self._enter_hint} ....stream(...) as "
                "response:` and read it inside that block"
            )
        return self._response

    @property
    def status_code(self) -> int:
        """The HTTP status code, readable before the body is iterated."""
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response headers, readable before the body is iterated."""
        return self.response.headers

    def _build(self) -> tuple[httpx.Request, dict[str, Any]]:
        """The request and ``send`` options used when no opener was given."""
        kwargs = dict(self._kwargs)
        send_options = {key: kwargs.pop(key) for key in _SEND_OPTIONS if key in kwargs}
        request = self._client.build_request(self._method, self._url, **kwargs)
        self._request = request
        return request, send_options

    def _opened(self, response: httpx.Response) -> None:
        self._response = response
        self._request = response.request

    def _detach(self) -> httpx.Response | None:
        response, self._response = self._response, None
        return response

    def _errors(self, stage: Literal["open", "body"]) -> AbstractContextManager[None]:
        return _sdk_errors(self._request, stage)

    def _events(self) -> EventDecoder:
        return EventDecoder(self.response.headers.get("content-type"))

    def _lines(self) -> TextLineDecoder:
        return TextLineDecoder(text_encoding(self.response.headers.get("content-type")))


class StreamingResponse(_StreamBase):
    """A streamed HTTP response, read lazily inside a ``with`` block.

    Created by :meth:`Services.stream <unitysvc.services.Services>` /
    :meth:`Groups.stream <unitysvc.groups.Groups>`. The request is sent on
    ``__enter__`` and the response closed on ``__exit__``. Status and headers are
    available before iteration; the body is consumed lazily by ``iter_events`` /
    ``iter_bytes`` / ``iter_lines``, and iterating the object itself is
    ``iter_events()``.

    Example::

        with client.groups.get("llm").stream(path="chat/completions", json=body) as r:
            print(r.status_code)
            for event in r:
                if event.kind == "sse":
                    print(event.parsed["choices"][0]["delta"].get("content", ""), end="")

    Args:
        httpx_client: The client that sends the request.
        method: HTTP method.
        url: Request URL.
        kwargs: Extra arguments for ``httpx_client.build_request`` (``headers``,
            ``json``, ``content``, ``timeout`` ...); ``auth`` and
            ``follow_redirects`` go to ``send``.
        opener: Opens the response instead (used by the SDK to apply its retries
            and error mapping); must return a response sent with ``stream=True``.
    """

    __slots__ = ()

    def __init__(
        self,
        httpx_client: httpx.Client,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        *,
        opener: Callable[[], httpx.Response] | None = None,
    ) -> None:
        super().__init__(httpx_client, method, url, kwargs, opener)

    def __enter__(self) -> StreamingResponse:
        with self._errors("open"):
            self._opened(self._opener() if self._opener else self._send())
        return self

    def _send(self) -> httpx.Response:
        request, send_options = self._build()
        response: httpx.Response = self._client.send(request, stream=True, **send_options)
        return response

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the response and release the connection (``__exit__`` does this)."""
        response = self._detach()
        if response is not None:
            response.close()

    def __iter__(self) -> Iterator[StreamEvent]:
        return self.iter_events()

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Yield the body's chunks as they arrive (decompressed).

        Args:
            chunk_size: Re-slice the body into chunks of this many bytes (the last
                may be shorter); ``None`` yields what the network delivered.
        """
        return self._pump(_Chunks(), chunk_size)

    def iter_lines(self) -> Iterator[str]:
        """Yield decoded text lines without their line ends (CR, LF or CRLF)."""
        return self._pump(self._lines(), None)

    def iter_events(self) -> Iterator[StreamEvent]:
        """Yield :class:`StreamEvent` objects, discriminated by Content-Type.

        - ``text/event-stream``: ``"sse"`` per frame (``parsed`` is the JSON data,
          or the text when it is not JSON; ``event``, ``id`` and ``retry`` kept),
          then ``"done"`` on ``data: [DONE]``, after which iteration stops. Frames
          split across network chunks are reassembled.
        - ``application/x-ndjson``, ``application/jsonl``, ``application/ndjson``:
          ``"ndjson"`` per non-blank line.
        - other ``text/*``: ``"line"`` per line (text in ``event.text``).
        - anything else: ``"bytes"`` per chunk.

        Raises:
            APIConnectionError: The connection broke before the body ended.
            APITimeoutError: The server stopped sending for longer than the timeout.
        """
        return self._pump(self._events(), None)

    def read(self) -> bytes:
        """Read the whole (remaining) body and return it."""
        with self._errors("body"):
            return self.response.read()

    def _pump(self, decoder: Decoder[T], chunk_size: int | None) -> Iterator[T]:
        # Not a generator itself, so that "not open" is raised at the call.
        return self._drain(self.response.iter_bytes(chunk_size), decoder)

    def _drain(self, chunks: Iterator[bytes], decoder: Decoder[T]) -> Iterator[T]:
        with self._errors("body"):
            for chunk in chunks:
                for piece in pieces(chunk, decoder.piece_size):
                    yield from decoder.feed(piece)
                if decoder.finished:
                    return
            yield from decoder.flush()


class AsyncStreamingResponse(_StreamBase):
    """Async sibling of :class:`StreamingResponse`: ``async with`` / ``async for``.

    ``iter_events()``, ``iter_bytes()`` and ``iter_lines()`` (the seed's names) and
    ``aiter_events()``, ``aiter_bytes()``, ``aiter_lines()`` return async
    iterators; ``async for event in response`` is ``aiter_events()``.

    Example::

        async with client.groups.get("llm").stream(path="chat/completions", json=b) as r:
            async for event in r:
                ...

    Args:
        httpx_client: The async client that sends the request.
        method: HTTP method.
        url: Request URL.
        kwargs: Extra arguments for ``httpx_client.build_request``; ``auth`` and
            ``follow_redirects`` go to ``send``.
        opener: Coroutine function that opens the response instead (used by the
            SDK to apply its retries and error mapping).
    """

    __slots__ = ()

    _enter_hint = "async with"

    def __init__(
        self,
        httpx_client: httpx.AsyncClient,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        *,
        opener: Callable[[], Awaitable[httpx.Response]] | None = None,
    ) -> None:
        super().__init__(httpx_client, method, url, kwargs, opener)

    async def __aenter__(self) -> AsyncStreamingResponse:
        with self._errors("open"):
            self._opened(await (self._opener() if self._opener else self._send()))
        return self

    async def _send(self) -> httpx.Response:
        request, send_options = self._build()
        response: httpx.Response = await self._client.send(request, stream=True, **send_options)
        return response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the response and release the connection (``__aexit__`` does this)."""
        response = self._detach()
        if response is not None:
            await response.aclose()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self.aiter_events()

    def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Yield the body's chunks as they arrive; see :meth:`StreamingResponse.iter_bytes`."""
        return self._pump(_Chunks(), chunk_size)

    def aiter_lines(self) -> AsyncIterator[str]:
        """Yield decoded text lines; see :meth:`StreamingResponse.iter_lines`."""
        return self._pump(self._lines(), None)

    def aiter_events(self) -> AsyncIterator[StreamEvent]:
        """Yield :class:`StreamEvent` objects; see :meth:`StreamingResponse.iter_events`."""
        return self._pump(self._events(), None)

    iter_bytes = aiter_bytes
    iter_lines = aiter_lines
    iter_events = aiter_events

    async def aread(self) -> bytes:
        """Read the whole (remaining) body and return it."""
        with self._errors("body"):
            return await self.response.aread()

    def _pump(self, decoder: Decoder[T], chunk_size: int | None) -> AsyncIterator[T]:
        return self._drain(self.response.aiter_bytes(chunk_size), decoder)

    async def _drain(self, chunks: AsyncIterator[bytes], decoder: Decoder[T]) -> AsyncIterator[T]:
        with self._errors("body"):
            async for chunk in chunks:
                for piece in pieces(chunk, decoder.piece_size):
                    for item in decoder.feed(piece):
                        yield item
                if decoder.finished:
                    return
            for item in decoder.flush():
                yield item

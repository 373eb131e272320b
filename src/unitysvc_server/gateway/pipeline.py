"""The dispatch pipeline: a request context, a response with a streamed body, and stages.

Every gateway call is a :class:`GatewayRequest` handed to a :data:`Handler`, which answers
a :class:`GatewayResponse` whose body is streamed chunk by chunk. Wrapper stages (log,
memoize, failover, tee) are plain wrapping callables, ``Stage(inner) -> Handler``, declared
as lazy :class:`StageSpec`\\ s and folded once by :class:`Pipeline`; after that the stack is
frozen. A stage that the request did not ask for is one attribute check and a tail call.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Concatenate, Generic, ParamSpec, Protocol

from unitysvc_server.routing.paths import GatewayPath

Headers = list[tuple[bytes, bytes]]

P = ParamSpec("P")


class ResponseBody(Protocol):
    """A response body, iterated once; ``aclose`` releases what produces it."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class BytesBody:
    """A body already in memory."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data

    async def aclose(self) -> None:
        return None


class StreamBody:
    """A body produced by an async iterator, with a callback that releases its source."""

    __slots__ = ("_chunks", "_close")

    def __init__(
        self, chunks: AsyncIterator[bytes], close: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._chunks = chunks
        self._close = close

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        if self._close is not None:
            close, self._close = self._close, None
            await close()


class BodyObserver(Protocol):
    """Sees every chunk of a body as it passes, then how the body ended."""

    def chunk(self, data: bytes) -> None: ...

    def end(self, complete: bool) -> None: ...


class ObservedBody:
    """Pass a body through unchanged while an observer watches it.

    ``observer.end(True)`` runs once the last chunk has gone through; ``end(False)`` if the
    body is closed early (client gone, upstream broke). Either way exactly once.
    """

    __slots__ = ("_inner", "_observer", "_ended")

    def __init__(self, inner: ResponseBody, observer: BodyObserver) -> None:
        self._inner = inner
        self._observer = observer
        self._ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for data in self._inner:
            self._observer.chunk(data)
            yield data
        self._finish(True)

    def _finish(self, complete: bool) -> None:
        if not self._ended:
            self._ended = True
            self._observer.end(complete)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._finish(False)


class ClientState:
    """Whether the caller of a dispatch hung up; shared by the dispatch and its children.

    Attributes:
        gone: The caller disconnected before the response was complete (the gateway
            cancelled the dispatch).
    """

    __slots__ = ("gone",)

    def __init__(self) -> None:
        self.gone = False


@dataclass(slots=True)
class Caller:
    """Who a dispatch runs for.

    Attributes:
        customer_id: The authenticated customer.
        user_id: The user behind the key, when the platform knows one.
        key_id: The API key the call came with (``None`` for scheduled runs).
    """

    customer_id: uuid.UUID
    user_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None


@dataclass(slots=True)
class Trace:
    """What the innermost stages learned about a dispatch, for logs and outer stages.

    Attributes:
        service_id: The service that answered.
        enrollment_id: The enrollment whose channel was used (BYOK/BYOE), if any.
        channel: The upstream channel name.
        upstream_url: The upstream URL called (gateway internal; never shown to customers).
        upstream_ms: Time until the upstream's response headers arrived.
        error_source: ``gateway`` or ``upstream`` when the dispatch failed.
        error_type: A short machine-readable reason.
        usage_event_id: The usage event of the upstream call that answered (metering).
    """

    service_id: uuid.UUID | None = None
    enrollment_id: uuid.UUID | None = None
    channel: str | None = None
    upstream_url: str | None = None
    upstream_ms: float | None = None
    error_source: str | None = None
    error_type: str | None = None
    usage_event_id: uuid.UUID | None = None

    def adopt(self, other: Trace) -> None:
        """Take over another dispatch's findings (the secondary that answered)."""
        for item in fields(self):
            setattr(self, item.name, getattr(other, item.name))


@dataclass(slots=True)
class GatewayRequest:
    """One dispatch through the pipeline.

    Attributes:
        method: HTTP method, upper case.
        path: The parsed gateway path.
        display_path: The gateway-relative path as the caller sent it (with query).
        headers: Inbound headers (lower-case names), the caller's credential included;
            the upstream stage decides what goes on.
        body: The request body (read fully: routing keys, cache keys, failover and tee
            need it more than once).
        caller: Who the dispatch runs for.
        depth: Nesting level: 0 for a caller's request, +1 per secondary, alias or step.
        recurrent_request_id: Set when the scheduler fired this dispatch.
        routing_key_override: Replaces the routing key taken from the body (aliases).
        started: ``time.perf_counter()`` at arrival.
        trace: Findings of the inner stages.
        client: Whether the caller hung up (set by the door, read by the logging stage).
    """

    method: str
    path: GatewayPath
    display_path: str
    headers: Headers
    body: bytes
    caller: Caller
    depth: int = 0
    recurrent_request_id: uuid.UUID | None = None
    routing_key_override: dict[str, Any] | None = None
    started: float = field(default_factory=time.perf_counter)
    trace: Trace = field(default_factory=Trace)
    client: ClientState = field(default_factory=ClientState)
    _json: Any = field(default=None, repr=False)
    _json_parsed: bool = field(default=False, repr=False)

    def header(self, name: bytes) -> bytes | None:
        """The first inbound header called ``name`` (lower case), or ``None``."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def json(self) -> Any:
        """The body parsed as JSON once, or ``None`` when it is not JSON."""
        if not self._json_parsed:
            self._json_parsed = True
            if self.body.lstrip()[:1] in (b"{", b"["):
                try:
                    self._json = json.loads(self.body)
                except ValueError:
                    self._json = None
        return self._json


@dataclass(slots=True)
class GatewayResponse:
    """A response whose body streams.

    Attributes:
        status: HTTP status.
        headers: Response headers (lower-case names), hop-by-hop ones already dropped.
        body: The body; whoever consumes the response must ``aclose`` it.
        error_source: ``gateway`` or ``upstream`` when this is an error answer.
        error_type: A short machine-readable reason for an error answer.
    """

    status: int
    headers: Headers
    body: ResponseBody
    error_source: str | None = None
    error_type: str | None = None


Handler = Callable[[GatewayRequest], Awaitable[GatewayResponse]]
Stage = Callable[[Handler], Handler]
#: Runs a gateway path as a child of a request (failover secondaries, tee copies).
SecondaryDispatch = Callable[[GatewayRequest, str], Awaitable[GatewayResponse]]
#: Runs background work the server drains at shutdown.
Spawn = Callable[[Coroutine[Any, Any, None]], object]


class StageSpec(Generic[P]):
    """A lazily built stage: the factory and its arguments, applied when the pipeline folds.

    Example:
        ``StageSpec(memoize_stage, cache=cache)`` builds ``memoize_stage(inner, cache=cache)``.
    """

    __slots__ = ("factory", "args", "kwargs")

    def __init__(
        self, factory: Callable[Concatenate[Handler, P], Handler], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        self.factory = factory
        self.args = args
        self.kwargs = kwargs

    def build(self, inner: Handler) -> Handler:
        """Wrap ``inner`` with this stage."""
        return self.factory(inner, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        return f"StageSpec({getattr(self.factory, '__name__', self.factory)!r})"


class Pipeline:
    """Stages around a core handler, folded once and frozen afterwards.

    The first spec is the outermost stage. Calling the pipeline before :meth:`freeze`
    freezes it.
    """

    def __init__(self, core: Handler, specs: Sequence[StageSpec[Any]] = ()) -> None:
        self._core = core
        self._specs: list[StageSpec[Any]] = list(specs)
        self._handler: Handler | None = None

    def add(self, spec: StageSpec[Any]) -> None:
        """Append a stage inside the ones already declared.

        Raises:
            RuntimeError: The pipeline has already been built.
        """
        if self._handler is not None:
            raise RuntimeError("the gateway pipeline is frozen once built; add stages before")
        self._specs.append(spec)

    @property
    def specs(self) -> tuple[StageSpec[Any], ...]:
        """The declared stages, outermost first."""
        return tuple(self._specs)

    def freeze(self) -> Handler:
        """Fold the stages around the core handler (once) and return the result."""
        if self._handler is None:
            handler = self._core
            for spec in reversed(self._specs):
                handler = spec.build(handler)
            self._handler = handler
        return self._handler

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        handler = self._handler or self.freeze()
        return await handler(request)

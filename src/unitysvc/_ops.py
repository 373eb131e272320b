"""Operation descriptors: one flow, bound as a sync or an async method.

A resource class is written once, generic over its mode, with its methods decorated
by :class:`op` (or :class:`stream_op`, :class:`pager`)::

    class _SecretsOps(Bound[M]):
        @op
        def get(self, name: str) -> Flow[SecretPublic]:
            response = yield from self._ctx.core.send(...)
            return parse(SecretPublic, response)

    class Secrets(_SecretsOps[Sync]): ...        # client.secrets.get("X") -> SecretPublic
    class AsyncSecrets(_SecretsOps[Async]): ...  # await aclient.secrets.get("X")

The descriptor's overloaded ``__get__`` tells type checkers which one they get.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from unitysvc._core import Core, Flow, PageFlow
from unitysvc._drivers import AsyncDriver, SyncDriver

if TYPE_CHECKING:
    import httpx

    from unitysvc._streaming import AsyncStreamingResponse, StreamingResponse

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M")

#: True while a :class:`stream_op` runs its flow: the dispatch flow it shares with the
#: buffered ``dispatch`` then leaves the body unread.
_STREAMING: ContextVar[bool] = ContextVar("unitysvc_streaming", default=False)


def streaming() -> bool:
    """Whether the running flow was opened by ``stream()`` rather than ``dispatch()``."""
    return _STREAMING.get()


class Sync:
    """Mode marker: methods return values."""


class Async:
    """Mode marker: methods return coroutines (or async iterators)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What every resource and record needs: the core, the driver and the client."""

    core: Core
    driver: SyncDriver | AsyncDriver
    client: Any


class Bound(Generic[M]):
    """Base of resources and active records bound to a client context."""

    _ctx: Context

    def __init__(self, client: Context) -> None:
        self._ctx = client


def _public_signature(flow: Callable[..., Any]) -> inspect.Signature:
    """The flow's signature as callers see it: no ``self``, the flow's result type."""
    sig = inspect.signature(flow)
    params = list(sig.parameters.values())[1:]
    ret = sig.return_annotation
    if isinstance(ret, str) and "[" in ret and ret.split("[", 1)[0] in {"Flow", "PageFlow"}:
        ret = ret.split("[", 1)[1][:-1]
    return sig.replace(parameters=params, return_annotation=ret)


class _Described:
    """Makes bound calls show the flow's name, docstring and signature."""

    __slots__ = ()
    _flow: Callable[..., Any]
    _signature: inspect.Signature | None = None

    @property
    def __signature__(self) -> inspect.Signature:
        cls = type(self)
        if cls._signature is None:
            cls._signature = _public_signature(cls._flow)
        return cls._signature


class _SyncCall(_Described):
    __slots__ = ("_obj",)

    def __init__(self, obj: Bound[Any]) -> None:
        self._obj = obj

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        obj = self._obj
        return obj._ctx.driver.run(self._flow(obj, *args, **kwargs))


class _AsyncCall(_SyncCall):
    __slots__ = ()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        obj = self._obj
        return await obj._ctx.driver.run(self._flow(obj, *args, **kwargs))


def _call_class(base: type[_SyncCall], flow: Callable[..., Any]) -> type[_SyncCall]:
    return type(
        flow.__name__,
        (base,),
        {
            "__slots__": (),
            "__doc__": flow.__doc__,
            "__qualname__": flow.__qualname__,
            "__module__": flow.__module__,
            "_flow": staticmethod(flow),
        },
    )


class _Descriptor(ABC):
    """What the three decorators share: the flow, its docs, unbound calls."""

    flow: Callable[..., Any]

    @abstractmethod
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        """Bind to a resource or record (each decorator binds in its own way)."""

    def __call__(self, obj: Bound[Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call as an unbound method: ``Secrets.list(client.secrets, limit=5)``."""
        bound: Any = self.__get__(obj, type(obj))
        return bound(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return _public_signature(self.flow)


class op(_Descriptor, Generic[P, T]):
    """Decorator turning a flow method into a sync or async method, per the mode."""

    def __init__(self, flow: Callable[Concatenate[Any, P], Flow[T]]) -> None:
        self.flow = flow
        self.__doc__ = flow.__doc__
        self.__name__ = flow.__name__
        self._sync = _call_class(_SyncCall, flow)
        self._async = _call_class(_AsyncCall, flow)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> op[P, T]: ...
    @overload
    def __get__(self, obj: Bound[Sync], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, obj: Bound[Async], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Bound[Any] | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        return (self._async if obj._ctx.driver.is_async else self._sync)(obj)


class pager(_Descriptor, Generic[P, T]):
    """Decorator for paging flows: an ``Iterator`` (sync) or ``AsyncIterator`` (async)."""

    def __init__(self, flow: Callable[Concatenate[Any, P], PageFlow[T]]) -> None:
        self.flow = flow
        self.__doc__ = flow.__doc__
        self.__name__ = flow.__name__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> pager[P, T]: ...
    @overload
    def __get__(self, obj: Bound[Sync], owner: type[Any]) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(self, obj: Bound[Async], owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, obj: Bound[Any] | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        flow = self.flow
        driver = obj._ctx.driver

        def walk(*args: Any, **kwargs: Any) -> Any:
            return driver.iterate(flow(obj, *args, **kwargs))

        walk.__doc__ = self.__doc__
        walk.__name__ = self.__name__
        return walk


class stream_op(_Descriptor, Generic[P]):
    """Decorator for flows that open a streamed response.

    Sync mode returns a :class:`~unitysvc.StreamingResponse`; async mode an
    :class:`~unitysvc.AsyncStreamingResponse`. The flow (interface lookup, retries)
    runs when the ``with`` / ``async with`` block is entered.
    """

    def __init__(
        self, flow: Callable[Concatenate[Any, P], Flow[httpx.Response]], doc: str | None = None
    ) -> None:
        self.flow = flow
        self.__doc__ = doc or flow.__doc__
        self.__name__ = "stream" if doc else flow.__name__

    @classmethod
    def mirror(cls, dispatch: op[P, httpx.Response], doc: str) -> stream_op[P]:
        """The streaming twin of a ``dispatch`` op: same arguments, body left unread."""
        return cls(dispatch.flow, doc)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> stream_op[P]: ...
    @overload
    def __get__(self, obj: Bound[Sync], owner: type[Any]) -> Callable[P, StreamingResponse]: ...
    @overload
    def __get__(
        self, obj: Bound[Async], owner: type[Any]
    ) -> Callable[P, AsyncStreamingResponse]: ...
    def __get__(self, obj: Bound[Any] | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        flow = self.flow
        ctx = obj._ctx

        def open_stream(*args: Any, **kwargs: Any) -> Any:
            return open_streaming_response(ctx, lambda: flow(obj, *args, **kwargs))

        open_stream.__doc__ = self.__doc__
        open_stream.__name__ = self.__name__
        return open_stream


def open_streaming_response(ctx: Context, make_flow: Callable[[], Flow[httpx.Response]]) -> Any:
    """Wrap a response-opening flow in the mode's streaming response class."""
    from unitysvc import _streaming

    driver = ctx.driver
    http: Any = ctx.core.http
    if isinstance(driver, AsyncDriver):
        async_driver = driver

        async def open_async() -> httpx.Response:
            token = _STREAMING.set(True)
            try:
                return await async_driver.run(make_flow())
            finally:
                _STREAMING.reset(token)

        return _streaming.AsyncStreamingResponse(http, "POST", "", {}, opener=open_async)
    sync_driver = driver

    def open_sync() -> httpx.Response:
        token = _STREAMING.set(True)
        try:
            return sync_driver.run(make_flow())
        finally:
            _STREAMING.reset(token)

    return _streaming.StreamingResponse(http, "POST", "", {}, opener=open_sync)


P2 = ParamSpec("P2")


@overload
def forward(target: op[Concatenate[Any, P2], T], key: str) -> op[P2, T]: ...
@overload
def forward(target: pager[Concatenate[Any, P2], T], key: str) -> pager[P2, T]: ...
@overload
def forward(target: stream_op[Concatenate[Any, P2]], key: str) -> stream_op[P2]: ...
def forward(target: Any, key: str) -> Any:
    """Bind a manager operation to an active record.

    ``refresh = forward(_ServicesOps.get, "id")`` makes ``svc.refresh()`` call
    ``_ServicesOps.get`` on the record's manager with ``svc.id`` as first argument;
    the record method shows the manager's signature minus that argument.
    """
    flow = target.flow
    signature = inspect.signature(flow)
    params = list(signature.parameters.values())

    def forwarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        return flow(self._manager, getattr(self, key), *args, **kwargs)

    forwarded.__name__ = flow.__name__
    forwarded.__qualname__ = flow.__qualname__
    forwarded.__doc__ = target.__doc__
    forwarded.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[params[0], *params[2:]]
    )
    clone = type(target)(forwarded)
    clone.__doc__ = target.__doc__
    return clone

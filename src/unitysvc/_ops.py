"""Operations: each defined once, as a flow; built into real sync and async methods.

A resource class is written once, generic over its mode, with its operations
decorated by :class:`op` (or :class:`pager`, :class:`stream_op`)::

    class _SecretsOps(Resource[M]):
        @op
        def get(self, name: str, **options: Unpack[RequestOptions]) -> Flow[SecretPublic]:
            \"\"\"Get a single secret by name.\"\"\"
            response = yield from self._call("GET", f"/secrets/{name}", options=options)
            return parse(SecretPublic, response)

    class Secrets(_SecretsOps[Sync]): ...        # client.secrets.get("X") -> SecretPublic
    class AsyncSecrets(_SecretsOps[Async]): ...  # await aclient.secrets.get("X")

When a class names its mode (``_SecretsOps[Sync]``, ``_SecretsOps[Async]``),
:meth:`Bound.__init_subclass__` puts a real function in it for every operation: a
``def`` for :class:`Sync`, an ``async def`` for :class:`Async` (an async generator
for pagers), each with the flow's docstring and signature. So
``inspect.iscoroutinefunction(AsyncSecrets.get)`` is True and
``unittest.mock.create_autospec`` gives ``AsyncMock`` methods. To type checkers the
decorators' overloaded ``__get__`` says what each mode returns, from the same flow.

Adding a resource: write ``_FooOps(Resource[M])`` with decorated flows, then
``class Foo(_FooOps[Sync])`` and ``class AsyncFoo(_FooOps[Async])``, and a
``_ResourceSlot`` on the client (see ``unitysvc/_client.py``). Nothing else.
"""

from __future__ import annotations

import inspect
import typing
from abc import ABC
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
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

#: A flow as the descriptors hold it: called with the bound object first.
_AnyFlow = Callable[..., Any]


class Sync:
    """Mode marker: methods return values."""


class Async:
    """Mode marker: methods return coroutines (or async iterators)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What every resource and record needs: the core and the driver."""

    core: Core
    driver: SyncDriver | AsyncDriver


def _mode_of(cls: type) -> type[Sync] | type[Async] | None:
    """The mode a class names in its bases (``_SecretsOps[Async]``), if any."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        for arg in typing.get_args(base):
            if arg is Sync or arg is Async:
                return arg
    return None


class Bound(Generic[M]):
    """Base of resources and active records bound to a client context."""

    _ctx: Context
    #: The mode of a concrete class (None on the generic definitions).
    _mode: type[Sync] | type[Async] | None = None

    def __init__(self, client: Context) -> None:
        self._ctx = client

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        mode = _mode_of(cls)
        if mode is None:
            return
        cls._mode = mode
        seen: set[str] = set()
        for klass in cls.__mro__:
            for name, value in vars(klass).items():
                if name in seen:
                    continue
                seen.add(name)
                if isinstance(value, _Descriptor):
                    setattr(cls, name, value.build(mode, cls, name))


def _describe(
    function: Callable[..., Any], descriptor: _Descriptor, owner: type, name: str
) -> None:
    """Give a built method the operation's name, docstring and signature."""
    function.__name__ = name
    function.__qualname__ = f"{owner.__qualname__}.{name}"
    function.__module__ = owner.__module__
    function.__doc__ = descriptor.__doc__
    function.__signature__ = descriptor.signature  # type: ignore[attr-defined]


def _public_signature(flow: _AnyFlow, drop: int = 0) -> inspect.Signature:
    """The flow's signature as a method's: ``self`` kept, ``drop`` parameters after it
    removed, and the flow's result type (``Flow[X]`` -> ``X``) as return annotation."""
    sig = inspect.signature(flow)
    params = list(sig.parameters.values())
    del params[1 : 1 + drop]
    ret = sig.return_annotation
    if isinstance(ret, str) and "[" in ret and ret.split("[", 1)[0] in {"Flow", "PageFlow"}:
        inner = ret.split("[", 1)[1][:-1]
        ret = inner if ret.startswith("Flow") else f"Iterator[{inner}]"
    return sig.replace(parameters=params, return_annotation=ret)


class _Descriptor(ABC):
    """What the three decorators share: the flow, its docs and signature.

    Attributes:
        flow: ``flow(obj, *args, **kwargs)`` returns the flow of one call.
        signature: The method's signature, ``self`` included.
    """

    flow: _AnyFlow
    signature: inspect.Signature

    def __init__(self, flow: _AnyFlow, signature: inspect.Signature, doc: str | None) -> None:
        self.flow = flow
        self.signature = signature
        self.__doc__ = doc

    def build(self, mode: type[Sync] | type[Async], owner: type, name: str) -> Callable[..., Any]:
        """The real method of this operation for a class of ``mode``."""
        function = self._build_async() if mode is Async else self._build_sync()
        _describe(function, self, owner, name)
        return function

    def _build_sync(self) -> Callable[..., Any]:
        raise NotImplementedError

    def _build_async(self) -> Callable[..., Any]:
        raise NotImplementedError

    def _bind(self, obj: Bound[Any]) -> Callable[..., Any]:
        """A bound method for an instance of a generic (mode-less) class."""
        is_async = obj._ctx.driver.is_async
        function = self._build_async() if is_async else self._build_sync()
        bound: Callable[..., Any] = function.__get__(obj, type(obj))
        return bound

    @property
    def __signature__(self) -> inspect.Signature:
        return self.signature


class op(_Descriptor, Generic[P, T]):
    """Decorator turning a flow method into a sync or async method, per the mode."""

    def __init__(self, flow: Callable[Concatenate[Any, P], Flow[T]]) -> None:
        super().__init__(flow, _public_signature(flow), flow.__doc__)

    @classmethod
    def unstreamed(cls, flow: Callable[Concatenate[Any, bool, P], Flow[T]]) -> op[P, T]:
        """The buffered operation of a dispatch flow whose first argument is ``stream``.

        ``dispatch = op.unstreamed(_dispatch)`` calls ``_dispatch(self, False, ...)``;
        :class:`stream_op` calls the same flow with True.
        """

        def buffered(obj: Any, /, *args: Any, **kwargs: Any) -> Flow[T]:
            return flow(obj, False, *args, **kwargs)

        made: op[P, T] = cls.__new__(cls)
        _Descriptor.__init__(made, buffered, _public_signature(flow, drop=1), flow.__doc__)
        return made

    def _build_sync(self) -> Callable[..., Any]:
        flow = self.flow

        def method(self: Bound[Sync], /, *args: Any, **kwargs: Any) -> Any:
            return self._ctx.driver.run(flow(self, *args, **kwargs))

        return method

    def _build_async(self) -> Callable[..., Any]:
        flow = self.flow

        async def method(self: Bound[Async], /, *args: Any, **kwargs: Any) -> Any:
            return await self._ctx.driver.run(flow(self, *args, **kwargs))

        return method

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> op[P, T]: ...
    @overload
    def __get__(self, obj: Bound[Sync], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, obj: Bound[Async], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Bound[Any] | None, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj)


class pager(_Descriptor, Generic[P, T]):
    """Decorator for paging flows: an ``Iterator`` (sync) or ``AsyncIterator`` (async)."""

    def __init__(self, flow: Callable[Concatenate[Any, P], PageFlow[T]]) -> None:
        super().__init__(flow, _public_signature(flow), flow.__doc__)

    def _build_sync(self) -> Callable[..., Any]:
        flow = self.flow

        def method(self: Bound[Sync], /, *args: Any, **kwargs: Any) -> Any:
            driver = self._ctx.driver
            assert isinstance(driver, SyncDriver)
            return driver.iterate(flow(self, *args, **kwargs))

        return method

    def _build_async(self) -> Callable[..., Any]:
        flow = self.flow

        async def method(self: Bound[Async], /, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            driver = self._ctx.driver
            assert isinstance(driver, AsyncDriver)
            async for item in driver.iterate(flow(self, *args, **kwargs)):
                yield item

        return method

    def build(self, mode: type[Sync] | type[Async], owner: type, name: str) -> Callable[..., Any]:
        function = super().build(mode, owner, name)
        if mode is Async:
            # ``async for`` over an async generator: the annotation says so.
            ret = self.signature.return_annotation
            if isinstance(ret, str) and ret.startswith("Iterator["):
                function.__signature__ = self.signature.replace(  # type: ignore[attr-defined]
                    return_annotation=f"AsyncIterator[{ret[9:-1]}]"
                )
        return function

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> pager[P, T]: ...
    @overload
    def __get__(self, obj: Bound[Sync], owner: type[Any]) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(self, obj: Bound[Async], owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, obj: Bound[Any] | None, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj)


class stream_op(_Descriptor, Generic[P]):
    """Decorator for flows that open a streamed response.

    Sync mode returns a :class:`~unitysvc.StreamingResponse`; async mode an
    :class:`~unitysvc.AsyncStreamingResponse` (an async context manager, so the
    method itself is a plain ``def``, like ``httpx.AsyncClient.stream``). The flow
    (interface lookup, retries) runs when the ``with`` / ``async with`` block is
    entered. The flow's first argument after ``self`` is ``stream``: it is called
    with True, and leaves the final response's body unread.
    """

    def __init__(
        self,
        flow: Callable[Concatenate[Any, bool, P], Flow[httpx.Response]],
        doc: str | None = None,
    ) -> None:
        def streamed(obj: Any, /, *args: Any, **kwargs: Any) -> Flow[httpx.Response]:
            return flow(obj, True, *args, **kwargs)

        signature = _public_signature(flow, drop=1)
        super().__init__(streamed, signature, doc or flow.__doc__)

    def _build_sync(self) -> Callable[..., Any]:
        flow = self.flow

        def method(self: Bound[Sync], /, *args: Any, **kwargs: Any) -> Any:
            return open_streaming_response(self._ctx, lambda: flow(self, *args, **kwargs))

        return method

    _build_async = _build_sync

    def build(self, mode: type[Sync] | type[Async], owner: type, name: str) -> Callable[..., Any]:
        function = super().build(mode, owner, name)
        kind = "AsyncStreamingResponse" if mode is Async else "StreamingResponse"
        function.__signature__ = self.signature.replace(return_annotation=kind)  # type: ignore[attr-defined]
        return function

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> stream_op[P]: ...
    @overload
    def __get__(self, obj: Bound[Sync], owner: type[Any]) -> Callable[P, StreamingResponse]: ...
    @overload
    def __get__(
        self, obj: Bound[Async], owner: type[Any]
    ) -> Callable[P, AsyncStreamingResponse]: ...
    def __get__(self, obj: Bound[Any] | None, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj)


def open_streaming_response(
    ctx: Context, make_flow: Callable[[], Flow[httpx.Response]]
) -> StreamingResponse | AsyncStreamingResponse:
    """Wrap a response-opening flow in the mode's streaming response class."""
    from unitysvc import _streaming

    driver = ctx.driver
    http: Any = ctx.core.http
    if isinstance(driver, AsyncDriver):
        async_driver = driver

        async def open_async() -> httpx.Response:
            return await async_driver.run(make_flow())

        return _streaming.AsyncStreamingResponse(http, "POST", "", {}, opener=open_async)
    sync_driver = driver

    def open_sync() -> httpx.Response:
        return sync_driver.run(make_flow())

    return _streaming.StreamingResponse(http, "POST", "", {}, opener=open_sync)


P2 = ParamSpec("P2")
D = TypeVar("D", bound=_Descriptor)


@overload
def forward(target: op[Concatenate[Any, P2], T], key: str) -> op[P2, T]: ...
@overload
def forward(target: pager[Concatenate[Any, P2], T], key: str) -> pager[P2, T]: ...
@overload
def forward(target: stream_op[Concatenate[Any, P2]], key: str) -> stream_op[P2]: ...
def forward(target: _Descriptor, key: str) -> _Descriptor:
    """Bind a manager operation to an active record.

    ``refresh = forward(_ServicesOps.get, "id")`` makes ``svc.refresh()`` call
    ``_ServicesOps.get`` on the record's manager with ``svc.id`` as first argument;
    the record method shows the manager's signature minus that argument.
    """
    flow = target.flow

    def forwarded(obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        return flow(obj._manager, getattr(obj, key), *args, **kwargs)

    params = list(target.signature.parameters.values())
    signature = target.signature.replace(parameters=[params[0], *params[2:]])
    clone = object.__new__(type(target))
    _Descriptor.__init__(clone, forwarded, signature, target.__doc__)
    return clone

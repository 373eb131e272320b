"""Gateway dispatch: the one flow behind every ``dispatch()`` and ``stream()``.

``client.dispatch``, ``services.dispatch``, ``groups.dispatch`` and wrapped targets
all end here, so body rules, auth and URL composition live in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeAlias, Unpack

from unitysvc._core import NOT_GIVEN, Flow, RequestExtras, RequestOptions
from unitysvc._ops import Async, Bound, Context, M, Sync, op, stream_op
from unitysvc._wrappers import WrapSpec, gateway_relative, render
from unitysvc.exceptions import OMIT, invalid_argument

if TYPE_CHECKING:
    import httpx

#: A raw dispatch body: bytes or text as is, a mapping sent as a form.
DispatchBody: TypeAlias = bytes | str | Mapping[str, object] | None


def join_url(base_url: str, path: str) -> str:
    """``base_url`` plus ``/path`` when a sub-path is given (no double slashes)."""
    base = base_url.rstrip("/")
    return f"{base}/{path.lstrip('/')}" if path else base


def check_body(json: object, data: DispatchBody) -> None:
    """Reject a dispatch given both body kinds.

    Raises:
        ValidationError: Both ``json`` and ``data`` were given.
    """
    if json is not None and data is not None:
        raise invalid_argument(
            "data", OMIT, "json= and data= are exclusive", "pass either json= or data=, not both"
        )


def dispatch_flow(
    ctx: Context,
    url: str,
    *,
    stream: bool,
    method: str = "POST",
    json: object = None,
    data: DispatchBody = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    options: RequestExtras,
) -> Flow[httpx.Response]:
    """Send one gateway request and return the response unraised.

    Args:
        ctx: The client context.
        url: Absolute gateway URL.
        stream: Leave the body unread (``stream()``) instead of reading it
            (``dispatch()``).
        method: HTTP method.
        json: JSON body (exclusive with ``data``).
        data: Raw body: bytes, str, or a form mapping.
        headers: Extra headers; an explicit ``Authorization`` is kept.
        timeout: Per-request timeout in seconds (None: the client's).
        options: The caller's other per-call options.

    Returns:
        The gateway's response: upstream 4xx/5xx are returned, not raised.

    Raises:
        ValidationError: Both ``json`` and ``data`` were given.
    """
    check_body(json, data)
    core = ctx.core
    content: bytes | str | None = None
    if isinstance(data, bytes | str):
        content = data
    elif data is not None:
        content = _form(data)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    # mypy does not see that unpacking a TypedDict into its subclass is sound.
    call: RequestOptions = {**options}  # type: ignore[typeddict-item]
    if timeout is not None:
        call["timeout"] = timeout
    request = core.request(
        method.upper(),
        url,
        headers=headers,
        options=call,
        content=content,
        json=NOT_GIVEN if json is None else json,
    )
    return (yield from core.send(request, stream=stream, raise_for_status=False))


def _form(data: Mapping[str, object]) -> str:
    from urllib.parse import urlencode

    return urlencode(data, doseq=True)


def gateway_root(ctx: Context) -> str:
    """The HTTP gateway root of this client (see ``Client.api_base_url``)."""
    return ctx.core.config.api_base_url


class Wrappable(Bound[M], ABC):
    """Fluent gateway wrappers for anything with a gateway ``path``.

    Each method returns a new :class:`WrappedTarget`; chain them in any order::

        svc.cached(ttl="1h").logged().with_failover(backup).dispatch(json=body)
    """

    @property
    @abstractmethod
    def path(self) -> str:
        """The gateway-relative path of this target."""

    def _wrap(self, spec: WrapSpec) -> WrappedTarget[M]:
        return wrapped_target(self._ctx, self.path, spec)

    def _spec(self) -> WrapSpec:
        return WrapSpec()

    def logged(self, complete: bool = False, *, _complete: bool = False) -> WrappedTarget[M]:
        """Record this call in the request log (``l/``), even if logging is off.

        Args:
            complete: Store full request and response bodies, not 8 KB previews.
            _complete: Alias of ``complete`` (the official SDK's spelling).
        """
        return self._wrap(self._spec().with_log(complete or _complete))

    def cached(
        self,
        ttl: str | None = None,
        *,
        renew: bool = False,
        _ttl: str | None = None,
        _renew: bool = False,
    ) -> WrappedTarget[M]:
        """Serve repeated identical calls from the customer's gateway cache (``m/``).

        Args:
            ttl: How long to keep the response: ``60s``, ``5m``, ``1h`` (default) or
                ``1d``, up to ``7d``.
            renew: Bypass the cache for this call and overwrite the entry.
            _ttl: Alias of ``ttl`` (the official SDK's spelling).
            _renew: Alias of ``renew``.

        Raises:
            ValidationError: ``ttl`` is malformed or above seven days.
        """
        return self._wrap(self._spec().with_cache(ttl or _ttl, renew or _renew))

    def with_failover(self, other: str | Wrappable[M]) -> WrappedTarget[M]:
        """Retry on ``other`` when this target answers 5xx or 429, times out or is down.

        Args:
            other: A gateway-relative path (used as written), or a service, group or
                wrapped target (the dispatch's ``path`` is appended to it as well).

        Raises:
            ValidationError: ``other`` is an external URL.
        """
        secondary = gateway_relative(other, what="failover")
        follows = not isinstance(other, str)
        return self._wrap(self._spec().with_failover(secondary, follows_sub_path=follows))

    def with_tee(self, other: str | Wrappable[M]) -> WrappedTarget[M]:
        """Also send a fire-and-forget copy of each call to ``other`` (``t/``).

        Args:
            other: A gateway-relative path (used as written), or a service, group or
                wrapped target (the dispatch's ``path`` is appended to it as well).

        Raises:
            ValidationError: ``other`` is an external URL.
        """
        secondary = gateway_relative(other, what="tee")
        follows = not isinstance(other, str)
        return self._wrap(self._spec().with_tee(secondary, follows_sub_path=follows))

    def delayed(
        self,
        *,
        at: str | datetime | None = None,
        in_: str | None = None,
        _at: str | datetime | None = None,
        _in: str | None = None,
    ) -> WrappedTarget[M]:
        """Make the call later, once (``d/``): the gateway answers 202 at once.

        The 202's JSON names the scheduled call (``id``, ``next_run_at``); it is an
        active recurrent request of yours (``client.recurrent_requests``), which runs
        the call through the gateway as you at that time.

        Args:
            at: When: a ``datetime`` or ISO-8601 string (no offset means UTC).
            in_: After how long: ``30s``, ``5m``, ``1h``, ``1d`` (up to ``366d``).
            _at: Alias of ``at`` (the official SDK's spelling).
            _in: Alias of ``in_``.

        Raises:
            ValidationError: Neither or both of ``at`` / ``in_``, or a malformed one.
        """
        return self._wrap(self._spec().with_delay(at or _at, in_ or _in))

    def recurrent(self, every: str | None = None, *, _every: str | None = None) -> WrappedTarget[M]:
        """Make the call now and then every ``every`` (``r/``): the gateway answers 202.

        The 202's JSON names the schedule (``id``), an active recurrent request of
        yours: list, pause or delete it through ``client.recurrent_requests``.
        Combined with :meth:`delayed`, the first run is at the delayed time.

        Args:
            every: The interval: ``30s``, ``5m``, ``1h``, ``1d`` (1s up to ``366d``).
            _every: Alias of ``every`` (the official SDK's spelling).

        Raises:
            ValidationError: No interval, or a malformed one.
        """
        interval = every or _every
        if interval is None:
            raise invalid_argument("every", OMIT, "recurrent() needs an interval", "e.g. '5m'")
        return self._wrap(self._spec().with_every(interval))


class PathTarget(Wrappable[M], Generic[M]):
    """A raw gateway path as a target of the fluent wrappers.

    Services and groups are wrappable as records; a bare path such as
    ``g/llm/chat/completions`` or ``a/<alias>`` needs this adapter to get
    ``.cached()``, ``.logged()``, ``.with_failover()`` and ``.with_tee()``.

    Args:
        client: The :class:`~unitysvc.Client` or :class:`~unitysvc.AsyncClient` to send with.
        path: The gateway-relative path.
    """

    def __init__(self, client: Bound[M], path: str) -> None:
        super().__init__(client._ctx)
        self._path = path

    @property
    def path(self) -> str:
        """The gateway-relative path."""
        return self._path


class Dispatchable(Wrappable[M], Generic[M]):
    """A gateway target dispatched at its own path (wrapped targets, chains, broadcasts)."""

    def _target(self) -> tuple[str, WrapSpec]:
        """The base path and the wrappers a dispatch renders."""
        return self.path, self._spec()

    def _dispatch(
        self,
        stream: bool,
        *,
        path: str = "",
        method: str = "POST",
        json: object = None,
        data: DispatchBody = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **options: Unpack[RequestExtras],
    ) -> Flow[httpx.Response]:
        """Send the request through the wrapped gateway path.

        Args:
            path: Sub-path appended to the target, before the wrapper query string.
            method: HTTP method. Defaults to POST.
            json: JSON body (exclusive with ``data``).
            data: Raw body.
            headers: Extra headers.
            timeout: Per-request timeout in seconds.
            **options: ``extra_headers``, ``extra_query``, ``idempotency_key``.

        Returns:
            The raw ``httpx.Response``; upstream errors are returned, not raised.
        """
        base, spec = self._target()
        url = join_url(gateway_root(self._ctx), render(base, spec, path))
        return (
            yield from dispatch_flow(
                self._ctx,
                url,
                stream=stream,
                method=method,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout,
                options=options,
            )
        )

    dispatch = op.unstreamed(_dispatch)
    stream = stream_op(
        _dispatch,
        """Like :meth:`dispatch`, but consume the response lazily (SSE, NDJSON, chunks).""",
    )


class WrappedTarget(Dispatchable[M], Generic[M]):
    """A gateway target with wrappers applied; dispatch it or wrap it further."""

    def __init__(self, client: Context, base: str, spec: WrapSpec) -> None:
        super().__init__(client)
        self._base = base
        self._wrap_spec = spec

    def _spec(self) -> WrapSpec:
        return self._wrap_spec

    def _wrap(self, spec: WrapSpec) -> WrappedTarget[M]:
        return wrapped_target(self._ctx, self._base, spec)

    def _target(self) -> tuple[str, WrapSpec]:
        return self._base, self._wrap_spec

    @property
    def path(self) -> str:
        """The full wrapped gateway path, e.g. ``l/m/p/<id>?_ttl=1h``."""
        return render(self._base, self._wrap_spec)

    def __repr__(self) -> str:
        return f"WrappedTarget({self.path!r})"


class SyncWrappedTarget(WrappedTarget[Sync]):
    """A wrapped target of a :class:`~unitysvc.Client`."""


class AsyncWrappedTarget(WrappedTarget[Async]):
    """A wrapped target of an :class:`~unitysvc.AsyncClient`."""


def wrapped_target(ctx: Context, base: str, spec: WrapSpec) -> WrappedTarget[M]:
    """A wrapped target of the client's flavour."""
    cls = AsyncWrappedTarget if ctx.driver.is_async else SyncWrappedTarget
    target: WrappedTarget[M] = cls(ctx, base, spec)  # type: ignore[assignment]
    return target

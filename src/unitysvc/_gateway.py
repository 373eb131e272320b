"""Gateway dispatch: the one flow behind every ``dispatch()`` and ``stream()``.

``client.dispatch``, ``services.dispatch``, ``groups.dispatch`` and wrapped targets
all end here, so body rules, auth and URL composition live in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Generic

from unitysvc._core import UNSET, Flow
from unitysvc._ops import Bound, Context, M, op, stream_op, streaming
from unitysvc._wrappers import WrapSpec, gateway_relative, render

if TYPE_CHECKING:
    import httpx


def join_url(base_url: str, path: str) -> str:
    """``base_url`` plus ``/path`` when a sub-path is given (no double slashes)."""
    base = base_url.rstrip("/")
    return f"{base}/{path.lstrip('/')}" if path else base


def check_body(json: Any, data: Any) -> None:
    """Reject a dispatch given both body kinds.

    Raises:
        ValueError: Both ``json`` and ``data`` were given.
    """
    if json is not None and data is not None:
        raise ValueError("pass either json= or data=, not both")


def dispatch_flow(
    ctx: Context,
    url: str,
    *,
    method: str = "POST",
    json: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Flow[httpx.Response]:
    """Send one gateway request and return the response unraised.

    Args:
        ctx: The client context.
        url: Absolute gateway URL.
        method: HTTP method.
        json: JSON body (exclusive with ``data``).
        data: Raw body: bytes, str, or a form mapping.
        headers: Extra headers; an explicit ``Authorization`` is kept.
        timeout: Per-request timeout in seconds.

    Returns:
        The gateway's response: upstream 4xx/5xx are returned, not raised.

    Raises:
        ValueError: Both ``json`` and ``data`` were given.
    """
    check_body(json, data)
    core = ctx.core
    body: dict[str, Any] = {}
    if json is not None:
        body["json"] = json
    elif isinstance(data, bytes | str):
        body["content"] = data
    elif data is not None:
        body["content"] = _form(data)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    request = core.request(
        method.upper(),
        url,
        headers=headers,
        timeout=UNSET if timeout is None else timeout,
        **body,
    )
    # A ``stream()`` method leaves the body unread for lazy iteration.
    return (yield from core.send(request, stream=streaming(), raise_for_status=False))


def _form(data: Any) -> str:
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
        return WrappedTarget[M](self._ctx, self.path, spec)

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
            ValueError: ``ttl`` is malformed or above seven days.
        """
        return self._wrap(self._spec().with_cache(ttl or _ttl, renew or _renew))

    def with_failover(self, other: Any) -> WrappedTarget[M]:
        """Retry on ``other`` when this target answers 5xx or 429, times out or is down.

        Args:
            other: A gateway-relative path (used as written), or a service, group or
                wrapped target (the dispatch's ``path`` is appended to it as well).

        Raises:
            ValueError: ``other`` is an external URL.
        """
        secondary = gateway_relative(other, what="failover")
        follows = not isinstance(other, str)
        return self._wrap(self._spec().with_failover(secondary, follows_sub_path=follows))

    def with_tee(self, other: Any) -> WrappedTarget[M]:
        """Also send a fire-and-forget copy of each call to ``other`` (``t/``).

        Args:
            other: A gateway-relative path (used as written), or a service, group or
                wrapped target (the dispatch's ``path`` is appended to it as well).

        Raises:
            ValueError: ``other`` is an external URL.
        """
        secondary = gateway_relative(other, what="tee")
        follows = not isinstance(other, str)
        return self._wrap(self._spec().with_tee(secondary, follows_sub_path=follows))


class WrappedTarget(Wrappable[M], Generic[M]):
    """A gateway target with wrappers applied; dispatch it or wrap it further."""

    def __init__(self, client: Context, base: str, spec: WrapSpec) -> None:
        super().__init__(client)
        self._base = base
        self._wrap_spec = spec

    def _spec(self) -> WrapSpec:
        return self._wrap_spec

    def _wrap(self, spec: WrapSpec) -> WrappedTarget[M]:
        return WrappedTarget[M](self._ctx, self._base, spec)

    @property
    def path(self) -> str:
        """The full wrapped gateway path, e.g. ``l/m/p/<id>?_ttl=1h``."""
        return render(self._base, self._wrap_spec)

    def __repr__(self) -> str:
        return f"WrappedTarget({self.path!r})"

    @op
    def dispatch(
        self,
        *,
        path: str = "",
        method: str = "POST",
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Flow[httpx.Response]:
        """Send the request through the wrapped gateway path.

        Args:
            path: Sub-path appended to the target, before the wrapper query string.
            method: HTTP method. Defaults to POST.
            json: JSON body (exclusive with ``data``).
            data: Raw body.
            headers: Extra headers.
            timeout: Per-request timeout in seconds.

        Returns:
            The raw ``httpx.Response``; upstream errors are returned, not raised.
        """
        url = join_url(gateway_root(self._ctx), render(self._base, self._wrap_spec, path))
        return (
            yield from dispatch_flow(
                self._ctx,
                url,
                method=method,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout,
            )
        )

    stream = stream_op.mirror(
        dispatch,
        """Like :meth:`dispatch`, but consume the response lazily (SSE, NDJSON, chunks).""",
    )

"""The gateway's ASGI application: authenticate, limit, parse, dispatch, stream back.

Pure ASGI (no ``call_next`` middleware) so a streamed upstream body reaches the caller
chunk by chunk, with nothing buffering in between. Once the body is read, the app
listens for the caller hanging up: a disconnect cancels the dispatch at once — the
upstream call, buffered or streaming, is abandoned and its connection closed rather
than pooled — and is logged as cancelled by the client (status 499 in the access log,
``error_type: "client_cancelled"`` in a request-log row). Everything that can be decided before
the pipeline — credentials, rate limit, path grammar, body size — is decided here, each
with a JSON error in the gateway's error shape. One structured access-log line per request
(logger ``unitysvc_server.gateway.access``) records method, path without query, status,
duration, customer and service ids — never a credential or a query value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from unitysvc_server.asgi_io import (
    BodyTooLarge,
    ClientDisconnected,
    json_depth_exceeds,
    json_too_deep_message,
    parse_bearer,
    read_body,
)
from unitysvc_server.gateway.errors import error_response
from unitysvc_server.gateway.pipeline import (
    Caller,
    GatewayRequest,
    GatewayResponse,
    Handler,
)
from unitysvc_server.gateway.ratelimit import RateLimiter, retry_after_header
from unitysvc_server.gateway.upstream import UpstreamInterrupted
from unitysvc_server.routing.paths import PathError, parse_gateway_path

access_log = logging.getLogger("unitysvc_server.gateway.access")
logger = logging.getLogger("unitysvc_server.gateway")

#: Maps a bearer token to the caller, or ``None`` when the key is unknown or revoked.
Authenticate = Callable[[str], Awaitable[Caller | None]]
#: Told of every answered request once its body is sent (metrics): the raw path, the
#: parsed request and the response (``None`` when refused before parsing, or when the
#: caller hung up), the status sent, and ``time.perf_counter()`` at arrival and when the
#: response headers were ready (0 when there were none).
DoorObserver = Callable[
    [str, GatewayRequest | None, GatewayResponse | None, int, float, float], None
]

_PATH_ERROR_TYPES = {400: "bad_wrapper", 404: "no_route", 501: "not_implemented"}

#: Request bodies above this size are refused with 413.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; ``""`` when malformed,
    ``None`` when absent."""
    for key, value in headers:
        if key == b"authorization":
            return parse_bearer(value.decode("latin-1"))
    return None


class _Hangup:
    """Cancels the request's task when the caller disconnects, once armed.

    Armed after the request body is read (the next ASGI message can then only be
    ``http.disconnect``), disarmed before the last response message (after which the
    server reports a disconnect for every request). Waiting costs one future per request.
    """

    __slots__ = ("_task", "_waiter", "request", "fired")

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None
        self._waiter: asyncio.Future[Message] | None = None
        self.request: GatewayRequest | None = None
        self.fired = False

    def arm(self, receive: Receive, request: GatewayRequest) -> None:
        self._task = asyncio.current_task()
        self.request = request
        self._waiter = asyncio.ensure_future(receive())
        self._waiter.add_done_callback(self._on_message)

    def _on_message(self, waiter: asyncio.Future[Message]) -> None:
        if self._task is None or waiter.cancelled() or waiter.exception() is not None:
            return
        if waiter.result().get("type") == "http.disconnect":
            self.fired = True
            if self.request is not None:
                self.request.client.gone = True
            self._task.cancel()

    def disarm(self) -> None:
        self._task = None
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.cancel()


class GatewayApp:
    """ASGI app serving every gateway path.

    Args:
        dispatch: The folded pipeline.
        authenticate: Resolves a bearer token to the caller.
        limiter: Per-customer rate limit (in process, or shared through Redis).
        max_body_bytes: Largest accepted request body.
        check_invalidations: Called before each request is authenticated: takes in
            cache invalidations other processes published (a cheap poll, or nothing).
        observe: Told of every answered request (metrics); ``None`` costs nothing.
    """

    def __init__(
        self,
        dispatch: Handler,
        authenticate: Authenticate,
        limiter: RateLimiter,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        check_invalidations: Callable[[], None] = lambda: None,
        observe: DoorObserver | None = None,
    ) -> None:
        self._dispatch = dispatch
        self._authenticate = authenticate
        self._limiter = limiter
        self._max_body = max_body_bytes
        self._check_invalidations = check_invalidations
        self._observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        started = time.perf_counter()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path_text = raw_path.decode("latin-1")
        query: bytes = scope.get("query_string", b"")
        request: GatewayRequest | None = None
        response: GatewayResponse | None = None
        answered = 0.0
        hangup = _Hangup()
        try:
            response, request = await self._handle(
                scope, receive, path_text, query, started, hangup
            )
            if self._observe is not None:
                answered = time.perf_counter()
            status = await self._send(send, response, hangup)
            error_type = response.error_type
        except ClientDisconnected:
            return
        except asyncio.CancelledError:
            task = asyncio.current_task()
            # Only a cancellation of our own making is absorbed (not a server shutdown).
            if not hangup.fired or task is None or task.uncancel() > 0:
                raise
            status, error_type = 499, "client_cancelled"
            request = hangup.request
        finally:
            hangup.disarm()
        if self._observe is not None:
            self._observe(path_text, request, response, status, started, answered)
        if access_log.isEnabledFor(logging.INFO):
            trace = request.trace if request is not None else None
            access_log.info(
                json.dumps(
                    {
                        "method": scope["method"],
                        "path": path_text,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        "customer_id": str(request.caller.customer_id) if request else None,
                        "service_id": str(trace.service_id) if trace and trace.service_id else None,
                        "error_type": error_type,
                    }
                )
            )

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        path_text: str,
        query: bytes,
        started: float,
        hangup: _Hangup,
    ) -> tuple[GatewayResponse, GatewayRequest | None]:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        token = bearer_token(headers)
        if not token:
            detail = (
                "Authorization header required: send 'Authorization: Bearer svcpass_...'"
                if token is None
                else "malformed Authorization header: expected 'Bearer <api key>'"
            )
            return error_response(401, detail, error_type="unauthenticated"), None
        # A key revoked by another process must not be served from this one's cache.
        self._check_invalidations()
        caller = await self._authenticate(token)
        if caller is None:
            return error_response(
                401, "invalid or revoked API key", error_type="unauthenticated"
            ), None
        wait = await self._limiter.take(caller.customer_id) if self._limiter.enabled else 0.0
        if wait > 0:
            return (
                error_response(
                    429,
                    f"rate limit exceeded: at most {self._limiter.rate:g} requests per second "
                    f"(burst {self._limiter.burst:g}); retry after the Retry-After delay",
                    error_type="rate_limited",
                    headers=[(b"retry-after", retry_after_header(wait))],
                ),
                None,
            )
        try:
            parsed = parse_gateway_path(path_text, query)
        except PathError as exc:
            error_type = exc.error_type or _PATH_ERROR_TYPES.get(exc.status, "bad_path")
            return (
                error_response(exc.status, exc.detail, error_type=error_type),
                None,
            )
        try:
            body = await read_body(receive, self._max_body)
        except BodyTooLarge:
            return (
                error_response(
                    413,
                    f"request body exceeds the gateway's limit of {self._max_body} bytes",
                    error_type="body_too_large",
                ),
                None,
            )
        if b"svcpass_" in body and token.encode("latin-1") in body:
            # The key that authenticated this request would travel to the upstream.
            return (
                error_response(
                    400,
                    "the request body carries the platform API key this request is "
                    "authenticated with; the gateway never sends platform keys upstream: "
                    "remove it from the body",
                    error_type="credential_in_body",
                ),
                None,
            )
        if json_depth_exceeds(body):
            # Checked once here, so no stage parsing the body can hit Python's recursion limit.
            return error_response(400, json_too_deep_message(), error_type="json_too_deep"), None
        display = path_text.lstrip("/")
        if query:
            display = f"{display}?{query.decode('latin-1')}"
        request = GatewayRequest(
            scope["method"], parsed, display, headers, body, caller, started=started
        )
        hangup.arm(receive, request)
        return await self._dispatch(request), request

    async def _send(self, send: Send, response: GatewayResponse, hangup: _Hangup) -> int:
        body = response.body
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": response.headers,
                }
            )
            async for chunk in body:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            # The server reports a disconnect for every finished request: stop listening.
            hangup.disarm()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except UpstreamInterrupted as exc:
            # Headers are out; cutting the connection is the only way to say "truncated".
            logger.warning("%s", exc)
        except OSError:
            pass  # the caller went away; the upstream is released below
        finally:
            await body.aclose()
        return response.status

"""Pure-ASGI layers in front of the control-plane app and the gateway.

Order, outermost first (see :func:`unitysvc_server.app.create_app`):

1. :class:`RequestContext` (every path) -- assigns ``x-request-id`` and turns
   an escaped exception into a logged 500 without a trace in the response.
2. :class:`BodyLimit` (``/v1``) -- reads a non-multipart body up front and
   answers 413 above ``max_body_bytes``.
3. :class:`RejectNul` (``/v1``) -- 422 for text the databases cannot store
   (NUL, lone surrogates) and out-of-range numbers, 400 for ``NaN``/``Infinity``.
4. :class:`Idempotency` (``/v1``) -- ``Idempotency-Key`` on POST: claimed before
   the route runs, duplicates wait for and replay the first response.
5. :class:`SlashTolerance` (``/v1``) -- both trailing-slash forms of a route.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unitysvc_server.api.deps import CUSTOMER_SCOPE_KEY, bearer_token
from unitysvc_server.api.errors import REQUEST_ID_STATE
from unitysvc_server.asgi_io import (
    BodyTooLarge,
    ClientDisconnected,
    json_depth_exceeds,
    json_too_deep_message,
    read_body,
)
from unitysvc_server.domain import customers, idempotency
from unitysvc_server.domain.errors import Unauthorized
from unitysvc_server.domain.idempotency import IDEMPOTENCY_SCOPE_KEY, IdempotencyClaim
from unitysvc_server.runtime import Runtime

logger = logging.getLogger("unitysvc_server.requests")

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Headers a replayed response must not copy from the original one.
_NOT_REPLAYED = {"content-length", "date", "server", "x-request-id", "transfer-encoding"}


def header(scope: Scope, name: bytes) -> str | None:
    """Return the first value of request header ``name`` (lowercase bytes)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def send_json(
    send: Send, status: int, payload: Any, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Send a complete JSON response."""
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestContext:
    """Give every response an ``x-request-id`` and never leak a stack trace.

    An inbound ``X-Request-Id`` of a safe shape is kept (so callers can
    correlate); otherwise a fresh one is generated.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbound = header(scope, REQUEST_ID_HEADER)
        request_id = inbound if inbound and _SAFE_REQUEST_ID.match(inbound) else uuid.uuid4().hex
        scope.setdefault("state", {})[REQUEST_ID_STATE] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != REQUEST_ID_HEADER
                ]
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Type and traceback only: messages of driver errors can carry data.
            logger.error(
                "unhandled %s on %s %s (request %s)",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
                request_id,
                exc_info=exc,
            )
            if not started:
                await send_json(
                    send_with_id, 500, {"detail": "internal error", "request_id": request_id}
                )


def replay_receive(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


BODY_SCOPE_KEY = "unitysvc.body"


class BodyLimit:
    """Buffer non-multipart request bodies, answering 413 above the limit.

    Multipart bodies (file uploads) stream through untouched: their size is
    enforced by the signed upload policy, not by this control-plane cap.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = header(scope, b"content-type") or ""
        if content_type.lower().startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        too_large = f"request body exceeds {self.max_bytes} bytes"
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_json(send, 413, {"detail": too_large})
            return
        try:
            body = await read_body(receive, self.max_bytes)
        except BodyTooLarge:
            await send_json(send, 413, {"detail": too_large})
            return
        except ClientDisconnected:
            return
        scope[BODY_SCOPE_KEY] = body
        await self.app(scope, replay_receive(body, receive), send)


NUL_MESSAGE = "must not contain NUL characters (\\u0000); remove them"
SURROGATE_MESSAGE = (
    "must be valid Unicode text: a lone surrogate (\\ud800-\\udfff) is not a character; "
    "send the character itself or a complete surrogate pair"
)
NUMBER_MESSAGE = "number out of range: it does not fit a 64-bit floating point value"
NON_STANDARD_JSON = (
    "malformed JSON body: NaN, Infinity and -Infinity are not JSON numbers; "
    "send a valid JSON document"
)

# Cheap pre-filter: a body is parsed here only when it may hold something the
# check refuses (most bodies hold none of these byte sequences).
_SUSPECT = re.compile(rb"\x00|\\u0000|\\u[dD][89a-fA-F]|NaN|Infinity|[eE][+-]?[0-9]{3}|[0-9]{300}")

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _bad_text(text: str) -> tuple[str, str] | None:
    if "\x00" in text:
        return NUL_MESSAGE, "string_nul"
    if _LONE_SURROGATE.search(text):
        return SURROGATE_MESSAGE, "string_unicode"
    return None


def _unstorable(value: Any, loc: list[str | int]) -> tuple[list[str | int], str, str] | None:
    if isinstance(value, str):
        bad = _bad_text(value)
        return None if bad is None else (loc, *bad)
    if isinstance(value, float):
        return (loc, NUMBER_MESSAGE, "finite_number") if math.isinf(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            bad = _bad_text(key)
            if bad is not None:
                return (loc, *bad)
            found = _unstorable(item, [*loc, key])
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable(item, [*loc, index])
            if found is not None:
                return found
    return None


class _NonStandardJson(ValueError):
    pass


def _refuse_constant(_name: str) -> Any:
    raise _NonStandardJson


class RejectNul:
    """Refuse request text that the databases cannot store or JSON cannot carry.

    * 422 (FastAPI-shaped, ``loc`` naming the field) for a NUL character in the
      path, the query or a JSON body, for a lone UTF-16 surrogate in a JSON
      string (``"\\ud800"``) and for a number too large for a float (``1e999``).
      PostgreSQL cannot store NUL in text or JSONB, and the driver cannot encode
      a lone surrogate (both would be a 500); SQLite would store both. Refusing
      them at the door keeps both databases behaving the same, including in the
      free-form JSON fields (``body_template``, ``parameters``, routing keys) no
      model inspects.
    * 400 for ``NaN`` / ``Infinity`` literals: Python's parser accepts them, but
      they are not JSON, and echoing them back would produce a response no
      strict client can parse; 400 too for a JSON body nested deeper than
      :data:`~unitysvc_server.asgi_io.MAX_JSON_DEPTH` (the gateway's rule).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if json_depth_exceeds(scope.get(BODY_SCOPE_KEY, b"")):
                await send_json(send, 400, {"detail": json_too_deep_message()})
                return
            try:
                found = self._find(scope)
            except _NonStandardJson:
                await send_json(send, 400, {"detail": NON_STANDARD_JSON})
                return
            if found is not None:
                loc, msg, kind = found
                await send_json(send, 422, {"detail": [{"loc": loc, "msg": msg, "type": kind}]})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _find(scope: Scope) -> tuple[list[str | int], str, str] | None:
        if "\x00" in scope["path"]:
            return ["path"], NUL_MESSAGE, "string_nul"
        query = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
        for key, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return ["query", key.replace("\x00", "")], NUL_MESSAGE, "string_nul"
        body = scope.get(BODY_SCOPE_KEY, b"")
        if not _SUSPECT.search(body):
            return None
        try:
            document = json.loads(body, parse_constant=_refuse_constant)
        except _NonStandardJson:
            raise
        except (ValueError, RecursionError):
            return None  # not JSON: the route's own parsing answers
        return _unstorable(document, ["body"])


def _bearer_or_none(scope: Scope) -> str | None:
    authorization = header(scope, b"authorization")
    if authorization is None:
        return None
    try:
        return bearer_token(authorization)
    except Unauthorized:
        return None  # the route's auth dependency answers 401


class _ClientGone(Exception):
    """The client disconnected while its duplicate request waited."""


async def _until_disconnect(receive: Receive) -> None:
    # The first message is the (replayed) body; the next can only be the disconnect.
    while (await receive())["type"] != "http.disconnect":
        pass


class Idempotency:
    """Run a POST carrying ``Idempotency-Key`` once per (customer, key).

    The key is claimed before the route runs (``domain.idempotency.claim``). A duplicate
    that finds the key claimed waits — woken at once by a claimer in this process,
    polling the database for one in another, at most :data:`WAIT_SECONDS`, and not
    after its client left — then gets the first request's response replayed; a
    different request under the key gets 409 at once. Requests without the header,
    unauthenticated ones (the route answers 401) and multipart uploads pass through.
    """

    #: Longest a duplicate waits for the first request (the longest a request may run:
    #: the gateway's upstream read timeout); then 409 "in progress".
    WAIT_SECONDS = 300.0
    #: Polling interval bounds while the first request runs in another process.
    POLL_SECONDS = (0.02, 0.5)

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._finished: dict[tuple[uuid.UUID, str], asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST" or BODY_SCOPE_KEY not in scope:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= idempotency.MAX_KEY_LENGTH:
            await send_json(
                send,
                400,
                {"detail": f"Idempotency-Key must be 1-{idempotency.MAX_KEY_LENGTH} characters"},
            )
            return
        token = _bearer_or_none(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        async with self.runtime.sessionmaker() as session:
            customer = await customers.authenticate(session, token)
        if customer is None:
            await self.app(scope, receive, send)
            return
        # The route's auth dependency reuses it instead of querying the key again.
        scope[CUSTOMER_SCOPE_KEY] = customer
        fingerprint = idempotency.fingerprint(
            scope["method"], scope["path"], scope.get("query_string", b""), scope[BODY_SCOPE_KEY]
        )
        claim = IdempotencyClaim(customer.id, key, fingerprint, scope["method"], scope["path"])
        waited = False
        try:
            stored, waited = await self._claim_or_wait(claim, receive)
        except _ClientGone:
            return
        if waited:
            # The body was consumed while watching for a disconnect: hand it over again.
            receive = replay_receive(scope[BODY_SCOPE_KEY], receive)
        if stored is not None:
            await self._answer_stored(send, stored, fingerprint)
            return
        finished = self._finished[(claim.customer_id, claim.key)] = asyncio.Event()
        try:
            await self._run(scope, receive, send, claim)
        finally:
            finished.set()
            self._finished.pop((claim.customer_id, claim.key), None)

    async def _claim_or_wait(
        self, claim: IdempotencyClaim, receive: Receive
    ) -> tuple[idempotency.StoredResponse | None, bool]:
        """Claim the key, or wait while another request holds it; ``(stored, waited)``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.WAIT_SECONDS
        delay, longest = self.POLL_SECONDS
        gone: asyncio.Task[None] | None = None
        try:
            while True:
                stored = await idempotency.claim(self.runtime.sessionmaker, claim)
                if (
                    stored is None
                    or stored.fingerprint != claim.fingerprint
                    or stored.status_code is not None
                    or loop.time() >= deadline
                ):
                    return stored, gone is not None
                if gone is None:
                    gone = asyncio.ensure_future(_until_disconnect(receive))
                finished = self._finished.get((claim.customer_id, claim.key))
                waits: set[asyncio.Future[Any]] = {gone}
                if finished is not None:
                    waits.add(asyncio.ensure_future(finished.wait()))
                done, pending = await asyncio.wait(
                    waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED
                )
                for future in pending - {gone}:
                    future.cancel()
                if gone in done:
                    raise _ClientGone
                delay = min(delay * 2, longest)
        finally:
            if gone is not None and not gone.done():
                gone.cancel()

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, claim: IdempotencyClaim
    ) -> None:
        scope[IDEMPOTENCY_SCOPE_KEY] = claim
        start: Message = {}
        chunks: list[bytes] = []
        held: list[Message] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Hold the last chunk until the response is recorded: a client
                    # that retries the moment it has the answer must get the
                    # replay, not "in progress".
                    held.append(message)
                    return
            await send(message)

        status = 500
        try:
            await self.app(scope, receive, capture)
            status = int(start.get("status", 500))
        finally:
            try:
                async with self.runtime.transaction() as session:
                    if claim.recorded or 200 <= status < 300:
                        headers = [
                            (k.decode("latin-1"), v.decode("latin-1"))
                            for k, v in start.get("headers", ())
                            if k.decode("latin-1").lower() not in _NOT_REPLAYED
                        ]
                        await idempotency.store_response(
                            session, claim, status, headers, b"".join(chunks)
                        )
                    else:
                        # Nothing committed: the key is free for a retry.
                        await idempotency.release(session, claim)
            except Exception:
                # A lost record only means a retry gets 409 instead of the replay.
                logger.exception("could not record the outcome of an idempotent request")
            for message in held:
                await send(message)

    @staticmethod
    async def _answer_stored(
        send: Send, stored: idempotency.StoredResponse, fingerprint: str
    ) -> None:
        if stored.fingerprint != fingerprint:
            await send_json(send, 409, {"detail": idempotency.DIFFERENT_REQUEST})
            return
        if stored.status_code is None:
            await send_json(send, 409, {"detail": idempotency.IN_PROGRESS})
            return
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
        headers.append((b"content-length", str(len(stored.body)).encode()))
        headers.append((b"idempotent-replayed", b"true"))
        await send(
            {"type": "http.response.start", "status": stored.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": stored.body})


class SlashTolerance:
    """Serve both ``/x`` and ``/x/`` for every route, without a redirect.

    Each route is registered (and documented) once, in the contract's form. This is
    the API router's fallback (its ``default``), run only when no route matched: when
    the path's other form matches a route, the path is rewritten and routed again;
    otherwise the router's own answer (404). As a middleware in front of the router it
    matched every request's path against the routes before the router did the same:
    routing twice, up to 0.2 ms of CPU per request for the routers listed last.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self.otherwise = router.default

    def _matches(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] != Match.NONE for route in self.router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _SLASH_REWRITTEN not in scope:
            path: str = scope["path"]
            other = path[:-1] if path.endswith("/") else path + "/"
            if path != "/" and self._matches({**scope, "path": other}):
                scope[_SLASH_REWRITTEN] = True
                scope["path"] = other
                raw = scope.get("raw_path")
                if isinstance(raw, bytes) and raw:
                    scope["raw_path"] = raw[:-1] if raw.endswith(b"/") else raw + b"/"
                await self.router(scope, receive, send)
                return
        await self.otherwise(scope, receive, send)


#: Scope key of a request whose path :class:`SlashTolerance` rewrote (it is rewritten once).
_SLASH_REWRITTEN = "unitysvc.slash_rewritten"

"""``d/`` (delayed) and ``r/`` (recurrent): register the call instead of making it now.

A ``d/`` or ``r/`` call is stored as an active recurrent request of the caller and
answered ``202`` with its id; the scheduler fires it like any other recurrent request
(through the whole gateway, as the caller, its other wrappers applied), and the
recurrent-requests API shows, changes, triggers and deletes it:

* ``d/...?_at=<ISO-8601>`` or ``d/...?_in=<duration>``: one run at that time (a
  ``once`` schedule). A time more than :data:`PAST_TOLERANCE` ago is refused; a slightly
  past one runs at once (clock skew).
* ``r/...?_every=<duration>``: an interval schedule whose first run is now -- or, with
  ``d/`` too, at the delayed time.

What is stored is what firing needs: the method, the path without ``d/``/``r/`` and
their parameters, the body (a JSON object, at most :data:`MAX_BODY_BYTES`; it becomes
the request's ``body_template``, so ``{{ now }}``-style strings render at each run) and
the end-to-end headers that shape the call -- never the caller's key or other
credentials: each run is signed with the owner's identity, as recurrent requests are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from unitysvc_server.clock import utcnow
from unitysvc_server.domain.errors import DomainError
from unitysvc_server.domain.recurrent_requests import schedule_gateway_call
from unitysvc_server.domain.sessions import Sessions
from unitysvc_server.gateway.errors import error_response
from unitysvc_server.gateway.pipeline import (
    BytesBody,
    GatewayRequest,
    GatewayResponse,
    Handler,
    Headers,
)
from unitysvc_server.routing.paths import MAX_SCHEDULE_SECONDS, unscheduled_path

#: Largest body a scheduled call stores.
MAX_BODY_BYTES = 1024 * 1024
#: How far in the past an ``_at`` may be and still run (at once).
PAST_TOLERANCE = timedelta(minutes=5)
#: Most headers a scheduled call keeps.
MAX_HEADERS = 50
#: Headers never stored: credentials, transport, and what the firing sets itself.
_DROPPED = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "proxy-connection",
        "user-agent",
        "accept-encoding",
        "idempotency-key",
    }
)
_KEPT_CONTROL = "x-unitysvc-log-request"


def stored_headers(headers: Headers) -> dict[str, str]:
    """The caller's headers a scheduled call keeps (no credentials, no transport)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if (
            name in _DROPPED
            or (name.startswith("x-unitysvc-") and name != _KEPT_CONTROL)
            or "svcpass_" in value
        ):
            continue
        if len(out) < MAX_HEADERS:
            out[name] = value
    return out


def _bad(status: int, detail: str) -> GatewayResponse:
    return error_response(status, detail, error_type="bad_schedule")


def _body_template(body: bytes) -> dict[str, Any] | GatewayResponse:
    if not body.strip():
        return {}
    if len(body) > MAX_BODY_BYTES:
        return _bad(
            413, f"a d/ or r/ call stores its body; at most {MAX_BODY_BYTES} bytes are kept"
        )
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _bad(
            400,
            "a d/ or r/ call keeps its body as a JSON object (the recurrent request's "
            "body template); send a JSON object or no body",
        )
    return data


def schedule_stage(
    inner: Handler,
    *,
    sessionmaker: Sessions,
    wake: Callable[[], None],
    clock: Callable[[], datetime] = utcnow,
) -> Handler:
    """Build the ``d/``/``r/`` stage.

    Args:
        inner: The next handler (calls without ``d/``/``r/`` go straight to it).
        sessionmaker: Database sessions (the recurrent request is written in one).
        wake: Tells the scheduler a schedule changed (after the commit).
        clock: The current aware UTC time.
    """

    async def handle(request: GatewayRequest) -> GatewayResponse:
        wrappers = request.path.wrappers
        if not wrappers.scheduled:
            return await inner(request)
        now = clock()
        first = now
        if wrappers.delay_at is not None:
            if wrappers.delay_at < now - PAST_TOLERANCE:
                return _bad(400, f"_at={wrappers.delay_at.isoformat()} is in the past")
            if wrappers.delay_at > now + timedelta(seconds=MAX_SCHEDULE_SECONDS):
                return _bad(400, "_at is more than a year ahead")
            first = max(wrappers.delay_at, now)
        elif wrappers.delay_seconds is not None:
            first = now + timedelta(seconds=wrappers.delay_seconds)
        template = _body_template(request.body)
        if isinstance(template, GatewayResponse):
            return template
        raw, _, query = request.display_path.partition("?")
        path = unscheduled_path(raw, query.encode("latin-1"))
        if wrappers.every_seconds is not None:
            kind = "recurrent"
            schedule: dict[str, Any] = {
                "schedule_type": "interval",
                "interval_seconds": wrappers.every_seconds,
            }
        else:
            kind = "delayed"
            schedule = {"schedule_type": "once", "run_at": first.isoformat()}
        try:
            public = await schedule_gateway_call(
                sessionmaker,
                request.caller.customer_id,
                gateway_path=path,
                method=request.method,
                body_template=template or None,
                headers=stored_headers(request.headers),
                schedule=schedule,
                first_run_at=first,
                name=f"{kind} {request.method} {path.split('?', 1)[0]}",
            )
        except DomainError as exc:
            return _bad(400, f"cannot schedule this call: {exc.detail}")
        wake()
        location = f"/v1/recurrent-requests/{public.id}"
        payload = {
            "id": str(public.id),
            "recurrent_request_id": str(public.id),
            "kind": kind,
            "status": public.status,
            "request_path": path,
            "http_method": public.http_method,
            "schedule": public.schedule,
            "next_run_at": first.isoformat(),
            "url": location,
        }
        data = json.dumps(payload).encode()
        return GatewayResponse(
            202,
            [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"location", location.encode()),
            ],
            BytesBody(data),
        )

    return handle

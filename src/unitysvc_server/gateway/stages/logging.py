"""``l/`` and the customer's logging preference: one request-log row per dispatch.

A dispatch is logged when the path carries ``l/`` (``_complete`` for full bodies), when
the caller sends ``X-Unitysvc-Log-Request`` (``1``/``true``/``complete``), or when the
customer turned logging on (``truncated`` or ``complete`` mode); the most complete of
these wins. The row is assembled while the response streams past — previews of at most
8 KB of each body, full bodies (bounded) in complete mode — and handed to the log writer
when the body ends, so logging never delays the response. Credential headers are left out
and secret-looking query values redacted; the upstream's URL and credential never enter the row.
Anything shaped like a platform key, and the values of the caller's secrets the dispatch used,
are redacted from the path, the headers and both bodies (``unitysvc_server.redaction``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from unitysvc_server.clock import utcnow
from unitysvc_server.domain.request_logs import LogMode, RequestLogRecord
from unitysvc_server.gateway.pipeline import (
    GatewayRequest,
    GatewayResponse,
    Handler,
    Headers,
    ObservedBody,
)
from unitysvc_server.gateway.upstream import loggable_headers
from unitysvc_server.redaction import redact_bytes, redact_text, secret_values

logger = logging.getLogger("unitysvc_server.gateway")

PREVIEW_BYTES = 8 * 1024
#: Bytes captured beyond what is kept, so a secret cut by the limit is still redacted.
_REDACTION_SLACK = 512
#: Complete mode keeps bodies up to this size in full; longer ones are marked truncated.
MAX_COMPLETE_BYTES = 32 * 1024 * 1024
OPT_IN_HEADER = b"x-unitysvc-log-request"

_RANK = {None: 0, "truncated": 1, "complete": 2}
_CLIENT_CANCELLED = ("client", "client_cancelled")
_SECRET_QUERY = re.compile(
    r"(?i)(^|[?&])([^=&]*(?:key|token|secret|password|signature|auth)[^=&]*)=[^&]*"
)

PreferenceLookup = Callable[[uuid.UUID], Awaitable[LogMode | None]]


def opt_in_mode(value: bytes | None) -> LogMode | None:
    """The mode a ``X-Unitysvc-Log-Request`` header value asks for."""
    if value is None:
        return None
    text = value.decode("latin-1").strip().lower()
    if text == "complete":
        return "complete"
    if text in ("", "0", "false", "no", "off", "none"):
        return None
    return "truncated"


def redact_path(path: str) -> str:
    """The path with secret-looking query values replaced."""
    if "?" not in path:
        return path
    return _SECRET_QUERY.sub(lambda m: f"{m.group(1)}{m.group(2)}=***redacted***", path)


def _content_type(headers: Headers) -> str:
    for key, value in headers:
        if key == b"content-type":
            return value.decode("latin-1")
    return ""


class _ResponseCapture:
    __slots__ = ("record", "limit", "parts", "size", "submit", "request")

    def __init__(
        self,
        record: RequestLogRecord,
        submit: Callable[[RequestLogRecord], None],
        request: GatewayRequest,
    ) -> None:
        self.record = record
        self.limit = MAX_COMPLETE_BYTES if record.mode == "complete" else PREVIEW_BYTES
        self.parts: list[bytes] = []
        self.size = 0
        self.submit = submit
        self.request = request

    def chunk(self, data: bytes) -> None:
        # A little more than is kept, so a value cut at the limit is still recognised.
        room = self.limit + _REDACTION_SLACK - self.size
        if room > 0:
            self.parts.append(data[:room])
        self.size += len(data)

    def end(self, complete: bool) -> None:
        record = self.record
        secrets = secret_values()
        body = redact_bytes(b"".join(self.parts), secrets)
        self.parts = []
        record.response_body_preview = body[:PREVIEW_BYTES]
        record.response_body_truncated = self.size > PREVIEW_BYTES
        if record.mode == "complete":
            record.response_body_full = body[: self.limit]
            record.response_body_truncated = self.size > self.limit
        if not complete and record.error_type is None:
            if self.request.client.gone:
                record.error_source, record.error_type = _CLIENT_CANCELLED
            else:
                record.error_source = record.error_source or "gateway"
                record.error_type = "response_interrupted"
        _submit(record, self.request.body, secrets, self.submit)


def _submit(
    record: RequestLogRecord,
    body: bytes,
    secrets: frozenset[str],
    submit: Callable[[RequestLogRecord], None],
) -> None:
    _redact_request(record, body, secrets)
    try:
        submit(record)
    except Exception:
        logger.exception("could not queue a request log")


def _redact_request(record: RequestLogRecord, body: bytes, secrets: frozenset[str]) -> None:
    """Redact what the record holds of the request, now that the used secrets are known."""
    record.path = redact_text(record.path, secrets)
    record.request_headers = {k: redact_text(v, secrets) for k, v in record.request_headers.items()}
    record.response_headers = {
        k: redact_text(v, secrets) for k, v in record.response_headers.items()
    }
    clean = redact_bytes(body, secrets)
    if clean is not body:
        record.request_body_preview = clean[:PREVIEW_BYTES]
        if record.request_body_full is not None:
            record.request_body_full = clean


def logging_stage(
    inner: Handler,
    *,
    submit: Callable[[RequestLogRecord], None],
    preference: PreferenceLookup,
) -> Handler:
    """Build the logging stage.

    Args:
        inner: The next handler.
        submit: Queues a finished record (must return at once).
        preference: The customer's logging mode, ``None`` when logging is off.
    """

    async def handle(request: GatewayRequest) -> GatewayResponse:
        wrappers = request.path.wrappers
        mode: LogMode | None = (
            "complete" if wrappers.log_complete else "truncated" if wrappers.log else None
        )
        for candidate in (
            opt_in_mode(request.header(OPT_IN_HEADER)),
            await preference(request.caller.customer_id),
        ):
            if _RANK[candidate] > _RANK[mode]:
                mode = candidate
        if mode is None:
            return await inner(request)
        timestamp = utcnow()
        body = request.body
        record = RequestLogRecord(
            log_id=uuid.uuid4(),
            event_id=uuid.uuid4().hex,
            event_timestamp=timestamp,
            mode=mode,
            customer_id=request.caller.customer_id,
            user_id=request.caller.user_id,
            recurrent_request_id=request.recurrent_request_id,
            method=request.method,
            path=redact_path(request.display_path),
            request_headers=loggable_headers(request.headers),
            request_content_type=_content_type(request.headers),
            request_body_preview=body[:PREVIEW_BYTES],
            request_body_truncated=len(body) > PREVIEW_BYTES,
            request_body_full=body if mode == "complete" else None,
        )
        try:
            response = await inner(request)
        except asyncio.CancelledError:
            if request.client.gone:
                # The caller hung up before the answer's headers: record that, then let
                # the cancellation finish unwinding the dispatch.
                record.error_source, record.error_type = _CLIENT_CANCELLED
                record.service_id = request.trace.service_id
                record.response_time_ms = round((time.perf_counter() - request.started) * 1000, 3)
                _submit(record, body, secret_values(), submit)
            raise
        trace = request.trace
        record.service_id = trace.service_id
        record.service_enrollment_id = trace.enrollment_id
        # The upstream's status; None when the gateway made the answer itself (no route,
        # timeout...): the error fields say what happened instead.
        record.status_code = None if response.error_type else response.status
        record.response_time_ms = round((time.perf_counter() - request.started) * 1000, 3)
        record.response_headers = loggable_headers(response.headers)
        record.response_content_type = _content_type(response.headers)
        record.error_source = response.error_source or trace.error_source
        record.error_type = response.error_type or trace.error_type
        record.usage_event_id = trace.usage_event_id
        response.body = ObservedBody(response.body, _ResponseCapture(record, submit, request))
        return response

    return handle

"""Request logs: the gateway's writer and the reads.

Logging is opt-in per customer (the ``request-log`` preference, see
:mod:`unitysvc_server.domain.preferences`) in one of two modes: ``truncated`` keeps an
8 KB preview of each body inline; ``complete`` also keeps the full bodies in the object
store, and the detail endpoint substitutes them. The gateway writes rows with
:func:`write_log_rows`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from unitysvc.models import (
    RequestLogDetail,
    RequestLogListItem,
    RequestLogListResponse,
)
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.errors import NotFound
from unitysvc_server.domain.pages import page_of
from unitysvc_server.domain.usage import usage_event_info
from unitysvc_server.storage.objects import InvalidKey, ObjectNotFound, ObjectStore
from unitysvc_server.storage.queries import request_logs as queries
from unitysvc_server.storage.queries.request_logs import LogFilters
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.request_logs import RequestLogRow

__all__ = [
    "LogMode",
    "DEFAULT_WINDOW",
    "PREVIEW_LIMIT",
    "LogFilters",
    "RequestLogRecord",
    "body_object_key",
    "get_request_log",
    "list_request_logs",
    "preview",
    "write_log_rows",
]

#: Largest body preview kept inline (and shown in list/detail without object storage).
PREVIEW_LIMIT = 8 * 1024
#: What the list shows when neither start_time nor end_time is given.
DEFAULT_WINDOW = timedelta(hours=24)


#: How much of the bodies a log keeps: previews only, or the full bodies too.
LogMode = Literal["truncated", "complete"]


@dataclass(slots=True, kw_only=True)
class RequestLogRecord:
    """One gateway dispatch to log: what the gateway's logging stage assembles while the
    response streams past, and what the log writer stores (the one record of a dispatch).

    Headers must already be redacted (no customer key, no upstream credential,
    no upstream identity). Body previews longer than :data:`PREVIEW_LIMIT` are cut
    on write. In ``complete`` mode the writer stores the full bodies
    (``*_body_full``) with :meth:`ObjectStore.put` under :func:`body_object_key` first
    and sets the keys.

    Attributes:
        customer_id: The caller.
        method: The caller's request method.
        path: The caller's gateway path (with its query), e.g. ``/p/echo/x?y=1``.
        event_timestamp: When the request arrived (aware).
        log_id: The row's id; pre-generate it to name object-store keys.
        event_id: A correlation id (defaults to ``log_id``'s hex form).
        gateway_source: Always ``backend`` for this gateway.
        service_id: The service dispatched to, if one was selected.
        service_enrollment_id: The enrollment used, if any.
        recurrent_request_id: Set when the scheduler fired the request.
        request_headers: Redacted caller headers.
        request_content_type: The caller's ``Content-Type`` (``""`` if none).
        request_body_preview: At most 8 KB of the caller's body.
        request_body_truncated: Whether the body was longer than the preview.
        request_body_key: Object-store key of the full request body (complete mode).
        status_code: The upstream status; ``None`` if no upstream answered.
        response_time_ms: Time to the upstream's response headers.
        response_headers: Redacted upstream response headers.
        response_content_type: The response's ``Content-Type``.
        response_body_preview: At most 8 KB of the response body.
        response_body_truncated: Whether the response was longer than the preview.
        response_body_key: Object-store key of the full response body (complete mode).
        error_source: ``gateway`` or ``upstream`` for failed dispatches.
        error_type: A short machine-readable kind (``timeout``, ``connect_error`` ...).
        usage_event_id: The call's usage event (``domain.usage``), if it was metered.
        mode: The logging mode the dispatch was logged in.
        user_id: The caller's user, if the key names one (not stored).
        request_body_full: The whole request body, in complete mode (not stored in the
            row: the writer puts it in the object store).
        response_body_full: The whole response body, in complete mode (likewise).
    """

    customer_id: uuid.UUID
    method: str
    path: str
    event_timestamp: datetime = field(default_factory=utcnow)
    log_id: uuid.UUID = field(default_factory=uuid.uuid4)
    event_id: str | None = None
    gateway_source: str = "backend"
    service_id: uuid.UUID | None = None
    service_enrollment_id: uuid.UUID | None = None
    recurrent_request_id: uuid.UUID | None = None
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_content_type: str = ""
    request_body_preview: bytes = b""
    request_body_truncated: bool = False
    request_body_key: str | None = None
    status_code: int | None = None
    response_time_ms: float | None = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_content_type: str = ""
    response_body_preview: bytes = b""
    response_body_truncated: bool = False
    response_body_key: str | None = None
    error_source: str | None = None
    error_type: str | None = None
    usage_event_id: uuid.UUID | None = None
    mode: LogMode = "truncated"
    user_id: uuid.UUID | None = None
    request_body_full: bytes | None = field(default=None, repr=False)
    response_body_full: bytes | None = field(default=None, repr=False)


def preview(body: bytes) -> tuple[bytes, bool]:
    """The inline preview of a body and whether it was cut."""
    if len(body) <= PREVIEW_LIMIT:
        return body, False
    return body[:PREVIEW_LIMIT], True


def log_body_root(customer_id: uuid.UUID) -> str:
    """The object-store prefix of every logged full body of a customer."""
    return f"request-logs/{customer_id}"


def body_object_key(customer_id: uuid.UUID, log_id: uuid.UUID, part: str) -> str:
    """Object-store key of a logged full body; ``part`` is ``request`` or ``response``."""
    return f"{log_body_root(customer_id)}/{log_id}/{part}"


# -- writer ----------------------------------------------------------------------


def _fit(value: str, limit: int) -> str:
    # Caller-controlled text (path, content types, a custom method) must fit its
    # column and hold no NUL (PostgreSQL refuses both): one unstorable value
    # would otherwise fail the whole batch, losing every row in it.
    return value.replace("\x00", "\ufffd")[:limit]


def _fit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {_fit(name, 1000): _fit(value, 8000) for name, value in headers.items()}


def _row_values(record: RequestLogRecord) -> dict[str, Any]:
    request_body, request_cut = preview(record.request_body_preview)
    response_body, response_cut = preview(record.response_body_preview)
    return {
        "id": record.log_id,
        "customer_id": record.customer_id,
        "event_id": _fit(record.event_id or record.log_id.hex, 64),
        "event_timestamp": record.event_timestamp,
        "gateway_source": _fit(record.gateway_source, 16),
        "service_id": record.service_id,
        "service_enrollment_id": record.service_enrollment_id,
        "recurrent_request_id": record.recurrent_request_id,
        "method": _fit(record.method.upper(), 16),
        "path": _fit(record.path, 2000),
        "request_headers": _fit_headers(record.request_headers),
        "request_content_type": _fit(record.request_content_type, 200),
        "request_body_preview": request_body,
        "request_body_truncated": record.request_body_truncated or request_cut,
        "request_body_key": record.request_body_key,
        "status_code": record.status_code,
        "response_time_ms": record.response_time_ms,
        "response_headers": _fit_headers(record.response_headers),
        "response_content_type": _fit(record.response_content_type, 200),
        "response_body_preview": response_body,
        "response_body_truncated": record.response_body_truncated or response_cut,
        "response_body_key": record.response_body_key,
        "error_source": None if record.error_source is None else _fit(record.error_source, 16),
        "error_type": None if record.error_type is None else _fit(record.error_type, 64),
        "usage_event_id": record.usage_event_id,
        "created_at": utcnow(),
    }


async def write_log_rows(session: Session, rows: Sequence[RequestLogRecord]) -> None:
    """Insert a batch of log rows in one statement (the caller commits)."""
    if rows:
        await queries.insert_rows(session, [_row_values(record) for record in rows])


# -- reads -----------------------------------------------------------------------


def _list_item(row: RequestLogRow) -> RequestLogListItem:
    return RequestLogListItem(
        log_id=str(row.id),
        event_id=row.event_id,
        event_timestamp=row.event_timestamp.isoformat(),
        gateway_source=row.gateway_source,
        customer_id=str(row.customer_id),
        service_id=_str(row.service_id),
        service_enrollment_id=_str(row.service_enrollment_id),
        user_request_method=row.method,
        user_request_path=row.path,
        upstream_response_status_code=row.status_code,
        upstream_response_time_ms=row.response_time_ms,
        error_source=row.error_source,
        error_type=row.error_type,
        recurrent_request_id=_str(row.recurrent_request_id),
    )


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


async def list_request_logs(
    session: Session,
    customer_id: uuid.UUID,
    filters: LogFilters,
    *,
    skip: int,
    limit: int,
    cursor: str | None = None,
    now: datetime | None = None,
) -> RequestLogListResponse:
    """A page of the customer's log rows, newest first, with the total count.

    By ``skip``/``limit`` (the contract), or by ``cursor`` — the previous page's
    ``next_cursor`` (:func:`~unitysvc_server.domain.pages.page_of`): the rows after that
    page's last one through the ``(customer, time, id)`` index, the total as counted on
    the first page. Without ``start_time`` and ``end_time``, the list holds the
    :data:`DEFAULT_WINDOW` that ended when the walk's first page was served.

    Raises:
        Unprocessable: ``cursor`` is not one of this list's, or comes with ``skip``.
    """
    unbounded = filters.start_time is None and filters.end_time is None
    listing = queries.listing(customer_id, filters, DEFAULT_WINDOW if unbounded else None)
    page = await page_of(session, listing, skip=skip, limit=limit, cursor=cursor, now=now)
    return RequestLogListResponse(
        total_count=page.total,
        skip=page.position,
        limit=limit,
        items=[_list_item(row) for row in page.rows],
        next_cursor=page.next_cursor,
    )


async def get_request_log(
    session: Session, customer_id: uuid.UUID, log_id: uuid.UUID, store: ObjectStore
) -> RequestLogDetail:
    """One log row with its bodies: the full ones from the object store when kept.

    Raises:
        NotFound: No such row for this customer.
    """
    row = await queries.row_for(session, customer_id, log_id)
    if row is None:
        raise NotFound(f"request log {log_id} not found")
    request_body = await _full_body(
        store, row.request_body_key, row.request_body_preview, row.request_body_truncated
    )
    detail: dict[str, Any] = {
        "log_id": str(row.id),
        "event_id": row.event_id,
        "event_timestamp": row.event_timestamp.isoformat(),
        "gateway_source": row.gateway_source,
        "customer_id": str(row.customer_id),
        "user_id": str(row.customer_id),
        "service_id": _str(row.service_id),
        "service_enrollment_id": _str(row.service_enrollment_id),
        "recurrent_request_id": _str(row.recurrent_request_id),
        "user_request": {
            "method": row.method,
            "path": row.path,
            "headers": row.request_headers or {},
            "body": _render_body(*request_body, row.request_content_type),
            "content_type": row.request_content_type,
        },
    }
    if row.status_code is not None:
        response_body = await _full_body(
            store, row.response_body_key, row.response_body_preview, row.response_body_truncated
        )
        detail["upstream_response"] = {
            "status_code": row.status_code,
            "headers": row.response_headers or {},
            "body": _render_body(*response_body, row.response_content_type),
            "time_ms": row.response_time_ms,
        }
    if row.usage_event_id is not None:
        usage = await usage_event_info(session, customer_id, row.usage_event_id)
        if usage is not None:
            detail["usage_event"] = usage
    if row.error_type or row.error_source:
        detail["error"] = {
            "category": row.error_type or row.error_source,
            "request_id": row.event_id,
        }
    return RequestLogDetail.model_validate(detail)


async def _full_body(
    store: ObjectStore, key: str | None, preview_bytes: bytes, truncated: bool
) -> tuple[bytes, bool]:
    if key is None:
        return preview_bytes, truncated
    try:
        return await store.get(key), False
    except (ObjectNotFound, InvalidKey):
        # The full body is gone (or never landed); the preview is still true.
        return preview_bytes, truncated


def _render_body(body: bytes, truncated: bool, content_type: str) -> Any:
    """A body as JSON when it is complete JSON, else as text (``None`` when empty)."""
    if not body:
        return None
    text = body.decode("utf-8", errors="replace")
    if not truncated and "json" in content_type.lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text

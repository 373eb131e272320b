"""Recurrent requests: scheduled gateway calls, their lifecycle and run bookkeeping.

Lifecycle: ``draft -> active <-> paused -> cancelled``. A request is created as a
draft; attaching a schedule to a draft activates it. ``next_run_at`` is kept
only while the request is active; the gateway's scheduler claims due rows with
:func:`claim_due` and reports each firing with :func:`record_run`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from unitysvc.models import (
    RecurrentRequestCreate,
    RecurrentRequestPublic,
    RecurrentRequestsPublic,
    RecurrentRequestUpdate,
)
from unitysvc_server.catalog.model import API_GATEWAY_PLACEHOLDER
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.errors import Conflict, Unprocessable
from unitysvc_server.domain.ownership import get_owned
from unitysvc_server.domain.pages import page_of
from unitysvc_server.domain.patch import PatchField, apply_patch
from unitysvc_server.domain.schedules import ScheduleError, next_run, validate_schedule
from unitysvc_server.storage.queries import recurrent_requests as queries
from unitysvc_server.storage.session import Session, Sessions
from unitysvc_server.storage.tables.recurrent_requests import RecurrentRequestRow

__all__ = [
    "ALLOWED_METHODS",
    "claim_due",
    "create_recurrent_request",
    "delete_recurrent_request",
    "gateway_relative_path",
    "get_recurrent_request",
    "list_recurrent_requests",
    "next_due_at",
    "recurrent_request_public",
    "record_run",
    "schedule_gateway_call",
    "update_recurrent_request",
]

ALLOWED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
# The platform signs each firing with the customer's own key; a stored credential
# would sit in the database in clear and be shown back on every read.
_FORBIDDEN_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "host", "content-length"}
)
_ERROR_TEXT_LIMIT = 500

# Which statuses a PATCH may move each status to (itself always included).
_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"draft", "active", "paused", "cancelled"}),
    "active": frozenset({"active", "paused", "cancelled"}),
    "paused": frozenset({"paused", "active", "cancelled"}),
    "cancelled": frozenset({"cancelled"}),
}


#: Longest ``request_path`` (the width of its column).
MAX_REQUEST_PATH = 2000


# -- pure rules ----------------------------------------------------------------


def gateway_relative_path(request_path: str) -> str:
    """The gateway-relative form of a ``request_path`` (no leading slash, query kept).

    Accepts what the SDK sends (an absolute gateway URL: the interface
    ``base_url`` plus a sub-path), a listing-style ``${API_GATEWAY_BASE_URL}/...``
    path, and plain gateway-relative paths with or without a leading slash.

    Raises:
        Unprocessable: The path is empty, not http(s), or contains ``..`` or spaces.
    """
    loc = ("body", "request_path")
    path = request_path.strip()
    if len(path) > MAX_REQUEST_PATH:
        raise Unprocessable(loc, f"must be at most {MAX_REQUEST_PATH} characters")
    if path.startswith(API_GATEWAY_PLACEHOLDER):
        path = path[len(API_GATEWAY_PLACEHOLDER) :]
    elif "://" in path:
        parts = urlsplit(path)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Unprocessable(loc, "an absolute request_path must be an http(s) gateway URL")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    path = path.lstrip("/")
    route = path.split("?", 1)[0]
    if not route:
        raise Unprocessable(loc, "must name a gateway path such as 'g/llm/v1/chat/completions'")
    if any(ch.isspace() for ch in path):
        raise Unprocessable(loc, "must not contain spaces")
    if any(segment in (".", "..") for segment in route.split("/")):
        raise Unprocessable(loc, "must not contain '.' or '..' segments")
    return path


def _method(value: str | None) -> str:
    method = (value or "POST").upper()
    if method not in ALLOWED_METHODS:
        raise Unprocessable(
            ("body", "http_method"), f"must be one of {', '.join(sorted(ALLOWED_METHODS))}"
        )
    return method


def _headers(value: Mapping[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    for name in value:
        loc = ("body", "request_headers", name)
        if not _HEADER_NAME.fullmatch(name):
            raise Unprocessable(loc, "is not a valid HTTP header name")
        if name.lower() in _FORBIDDEN_HEADERS:
            raise Unprocessable(
                loc,
                "is set by the platform; credentials are added from your key and secrets "
                "at firing time",
            )
    return dict(value)


def _schedule(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return validate_schedule(raw)
    except ScheduleError as exc:
        loc = ("body", "schedule") if exc.field == "schedule" else ("body", "schedule", exc.field)
        raise Unprocessable(loc, exc.message) from None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def recurrent_request_public(row: RecurrentRequestRow) -> RecurrentRequestPublic:
    """The wire form of a recurrent request; run bookkeeping goes into ``state``."""
    return RecurrentRequestPublic.model_validate(
        {
            "id": row.id,
            "status": row.status,
            "customer_id": row.customer_id,
            "service_id": row.service_id,
            "enrollment_id": row.enrollment_id,
            "request_path": row.request_path,
            "http_method": row.http_method,
            "body_template": row.body_template,
            "request_headers": row.request_headers,
            "schedule": row.schedule,
            "state": {
                "gateway_path": row.gateway_path,
                "next_run_at": _iso(row.next_run_at),
                "last_run_at": _iso(row.last_run_at),
                "run_count": row.run_count,
                "success_count": row.success_count,
                "failure_count": row.failure_count,
                "last_status_code": row.last_status_code,
                "last_error": row.last_error,
            },
            "name": row.name,
            "created_at": row.created_at.isoformat(),
            "updated_at": _iso(row.updated_at),
        }
    )


# -- CRUD ----------------------------------------------------------------------


async def create_recurrent_request(
    session: Session, customer_id: uuid.UUID, body: RecurrentRequestCreate
) -> RecurrentRequestRow:
    """Create a draft recurrent request.

    Raises:
        Unprocessable: ``request_path``, ``http_method`` or a header is invalid.
    """
    row = RecurrentRequestRow(
        customer_id=customer_id,
        owner_id=customer_id,
        name=body.name,
        status="draft",
        service_id=body.service_id,
        enrollment_id=body.enrollment_id,
        request_path=body.request_path.strip(),
        gateway_path=gateway_relative_path(body.request_path),
        http_method=_method(body.http_method),
        body_template=body.body_template,
        request_headers=_headers(body.request_headers),
    )
    await queries.insert(session, row)
    return row


async def schedule_gateway_call(
    sessions: Sessions,
    customer_id: uuid.UUID,
    *,
    gateway_path: str,
    method: str,
    body_template: dict[str, Any] | None,
    headers: Mapping[str, str],
    schedule: dict[str, Any],
    first_run_at: datetime,
    name: str,
) -> RecurrentRequestPublic:
    """Register a gateway call made through ``d/`` or ``r/``: an active recurrent request.

    It is visible and manageable like any other recurrent request; its first run is at
    ``first_run_at``. Written and committed in a transaction of its own.

    Returns:
        The stored request, as the recurrent-requests API shows it.

    Raises:
        Unprocessable: The path, method, a header or the schedule is invalid.
    """
    row = RecurrentRequestRow(
        customer_id=customer_id,
        owner_id=customer_id,
        name=name[:200],
        status="active",
        request_path=gateway_path,
        gateway_path=gateway_relative_path(gateway_path),
        http_method=_method(method),
        body_template=body_template,
        request_headers=_headers(headers) or None,
        schedule=_schedule(schedule),
        next_run_at=first_run_at,
    )
    async with sessions() as session, session.begin():
        await queries.insert(session, row)
        return recurrent_request_public(row)


async def list_recurrent_requests(
    session: Session,
    customer_id: uuid.UUID,
    *,
    service_id: uuid.UUID | None,
    enrollment_id: uuid.UUID | None,
    status: str | None,
    skip: int,
    limit: int,
    cursor: str | None = None,
) -> RecurrentRequestsPublic:
    """A page of the customer's recurrent requests, oldest first; ``count`` is the total.

    By ``skip``/``limit``, or after the previous page's ``next_cursor``
    (:func:`~unitysvc_server.domain.pages.page_of`).

    Raises:
        Unprocessable: ``cursor`` is not one of this list's, or comes with ``skip``.
    """
    listing = queries.listing(
        customer_id, service_id=service_id, enrollment_id=enrollment_id, status=status
    )
    page = await page_of(session, listing, skip=skip, limit=limit, cursor=cursor)
    return page.wire(RecurrentRequestsPublic, recurrent_request_public)


async def get_recurrent_request(
    session: Session, customer_id: uuid.UUID, request_id: uuid.UUID
) -> RecurrentRequestRow:
    """One of the customer's recurrent requests.

    Raises:
        NotFound: No such request for this customer.
    """
    return await get_owned(
        session, RecurrentRequestRow, request_id, customer_id, what="recurrent request"
    )


def _store_request_path(row: RecurrentRequestRow, value: str) -> None:
    row.gateway_path = gateway_relative_path(value)
    row.request_path = value.strip()


def _store_headers(row: RecurrentRequestRow, value: Mapping[str, str] | None) -> None:
    row.request_headers = _headers(value)


def _name(value: str, loc: tuple[str, ...]) -> str:
    if len(value) > 200:
        raise Unprocessable(loc, "must be at most 200 characters")
    return value


#: How ``PATCH /recurrent-requests/{id}`` applies its request fields (the schedule and
#: status follow their own rules: see :func:`update_recurrent_request`).
_PATCH = {
    "request_path": PatchField(store=_store_request_path),
    "body_template": PatchField(nullable=True),
    "request_headers": PatchField(nullable=True, store=_store_headers),
    "name": PatchField(_name, nullable=True),
}


def _patch_schedule(row: RecurrentRequestRow, body: RecurrentRequestUpdate) -> bool:
    """Apply the PATCH's ``schedule``; whether a (new) schedule was set."""
    if "schedule" not in body.model_fields_set:
        return False
    if body.schedule is None:
        if row.status != "draft":
            raise Unprocessable(
                ("body", "schedule"), "cannot be removed; pause or cancel the request instead"
            )
        row.schedule = None
        return False
    row.schedule = _schedule(body.schedule)
    return True


def _change_status(row: RecurrentRequestRow, target: str) -> None:
    """Move ``row`` to status ``target``, if that transition is allowed."""
    previous = row.status
    if target not in _TRANSITIONS[previous]:
        raise Conflict(f"a {previous} recurrent request cannot become {target}")
    if target in ("active", "paused") and row.schedule is None:
        raise Unprocessable(("body", "schedule"), f"a schedule is required to make it {target}")
    row.status = target


async def update_recurrent_request(
    session: Session,
    customer_id: uuid.UUID,
    request_id: uuid.UUID,
    body: RecurrentRequestUpdate,
    *,
    now: datetime | None = None,
) -> RecurrentRequestRow:
    """Apply a PATCH: top-level fields replace the stored ones (headers wholesale).

    Attaching a schedule to a draft activates it unless the same PATCH sets
    another status. Activating computes ``next_run_at``; pausing or cancelling
    clears it. Changing the schedule of an active request reschedules it.

    Raises:
        NotFound: No such request.
        Conflict: The request is cancelled, or the status change is not allowed.
        Unprocessable: A field is invalid, or activation lacks a schedule.
    """
    row = await get_recurrent_request(session, customer_id, request_id)
    if row.status == "cancelled":
        raise Conflict(f"recurrent request {request_id} is cancelled; create a new one")
    apply_patch(row, body, _PATCH)
    schedule_changed = _patch_schedule(row, body)
    target = body.status
    if target is None and schedule_changed and row.status == "draft":
        target = "active"
    previous = row.status
    if target is not None and target != previous:
        _change_status(row, target)
    if row.status == "active" and row.schedule is not None:
        if schedule_changed or previous != "active" or row.next_run_at is None:
            row.next_run_at = next_run(row.schedule, now or utcnow())
    else:
        row.next_run_at = None
    await queries.flush(session)
    return row


async def delete_recurrent_request(
    session: Session, customer_id: uuid.UUID, request_id: uuid.UUID
) -> None:
    """Delete a recurrent request (the scheduler stops seeing it at once).

    Raises:
        NotFound: No such request.
    """
    row = await get_recurrent_request(session, customer_id, request_id)
    await queries.delete(session, row)


# -- scheduler support ----------------------------------------------------------


async def claim_due(
    session: Session, now: datetime, *, limit: int = 100
) -> list[RecurrentRequestRow]:
    """Claim the active requests due at ``now`` and advance their ``next_run_at``.

    Rows are locked with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite
    serialises writers anyway), so several server processes sharing a database
    each claim a due row at most once per tick: commit the session, then fire the
    returned rows. The next run is computed from the previous scheduled time, so
    intervals do not drift; runs missed while the server was down are skipped
    rather than replayed.
    """
    rows = list(await queries.due_for_update(session, now, limit))
    for row in rows:
        if row.schedule is None:
            row.next_run_at = None
            continue
        upcoming = next_run(row.schedule, row.next_run_at or now)
        if upcoming is not None and upcoming <= now:
            upcoming = next_run(row.schedule, now)
        # None: a one-shot schedule has had its run.
        row.next_run_at = upcoming
    await queries.flush(session)
    return rows


async def next_due_at(session: Session) -> datetime | None:
    """When the earliest active request is next due (``None``: nothing is scheduled)."""
    return await queries.next_due_at(session)


async def record_run(
    session: Session,
    request_id: uuid.UUID,
    *,
    fired_at: datetime,
    status_code: int | None,
    error: str | None = None,
) -> None:
    """Record one firing: last run, counts, last status (2xx counts as success).

    The counters are incremented in SQL, so concurrent firings never lose a
    count. A request deleted meanwhile is silently skipped.

    Args:
        session: An open session (the caller commits).
        request_id: The fired request.
        fired_at: When the firing started.
        status_code: The response status, or ``None`` when no response came back.
        error: A short, secret-free description of the failure, if any.
    """
    succeeded = 1 if status_code is not None and 200 <= status_code < 300 and not error else 0
    await queries.record_run(
        session,
        request_id,
        fired_at=fired_at,
        succeeded=succeeded,
        status_code=status_code,
        error=error[:_ERROR_TEXT_LIMIT] if error else None,
    )

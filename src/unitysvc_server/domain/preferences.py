"""Named preferences of the account a key acts for: ``notification``, ``ai``, ``request-log``.

A preference is unset (no row) or holds the account's own value; reads report the
``value``, what applies now (``effective``) and where that comes from (``source``). This
platform has one account per key and no team or platform defaults, so ``effective`` is
the account's value (``source: "account"``) or nothing (``null``/``null``).

* ``notification`` -- where notices are forwarded: a service path (a listed service's
  name, ``p/<service-id>``, a routable ``g/<group>``) or a ``b/<broadcast>`` /
  ``e/<CODE>`` the caller owns. Stored with ``gateway: "api"``, the door it is reached
  through (the only gateway this platform runs).
* ``ai`` -- the AI behind ``/ai``: a listed service's name, or ``a/<alias>`` of the
  caller. Services that need an enrollment are refused.
* ``request-log`` -- the request-logging mode, ``truncated`` or ``complete``; unset means
  logging is off. This row is the one source of truth for logging: the gateway reads it
  (:func:`request_log_mode`) and the 0.1.22 ``POST /request-logs/start|stop`` write it
  (:func:`start_logging`, :func:`stop_logging`).

Values are validated on write: a bad value is a 422 at ``body.value`` naming what is
allowed; an unknown preference name is a 404 listing the names.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from unitysvc.models import (
    LoggingStatusResponse,
    PreferenceAccountPublic,
    PreferencePublic,
    PreferencesPublic,
    PreferenceValue,
)
from unitysvc_server.catalog.model import Catalog
from unitysvc_server.domain.customers import Customer
from unitysvc_server.domain.enrollments import normalize_code
from unitysvc_server.domain.errors import Conflict, NotFound, Unprocessable
from unitysvc_server.routing.paths import is_uuid
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.queries import preferences as queries
from unitysvc_server.storage.session import Session, Sessions
from unitysvc_server.storage.tables.preferences import PreferenceRow

__all__ = [
    "NAMES",
    "REQUEST_LOG",
    "REQUEST_LOG_MODES",
    "RequestLogMode",
    "clear_preference",
    "get_preference",
    "list_preferences",
    "load_request_log_mode",
    "request_log_mode",
    "set_preference",
    "start_logging",
    "stop_logging",
]

NOTIFICATION = "notification"
AI = "ai"
REQUEST_LOG = "request-log"
#: Every preference, in listing order.
NAMES = (NOTIFICATION, AI, REQUEST_LOG)

RequestLogMode = Literal["truncated", "complete"]
REQUEST_LOG_MODES: tuple[RequestLogMode, ...] = ("truncated", "complete")
#: The only gateway this platform runs: where a notification destination is reached.
GATEWAY = "api"

_LOC = ("body", "value")


def _check_name(name: str) -> str:
    if name not in NAMES:
        raise NotFound(f"no preference named {name!r}; the preferences are {', '.join(NAMES)}")
    return name


# -- validation --------------------------------------------------------------------


def _service_text(name: str, value: PreferenceValue | str) -> str:
    text = value.service if isinstance(value, PreferenceValue) else value
    text = text.strip().strip("/")
    if not text:
        loc = (*_LOC, "service") if isinstance(value, PreferenceValue) else _LOC
        raise Unprocessable(loc, f"{name} needs a service; it cannot be empty")
    return text


def _listed_service_path(catalog: Catalog, path: str) -> bool:
    """Whether ``path`` names a listed service: its name, ``p/<id>``, or a declared path."""
    service = catalog.service_by_name(path)
    if service is not None and service.is_listed:
        return True
    head, _, rest = path.partition("/")
    if head == "p" and is_uuid(rest):
        by_id = catalog.service(uuid.UUID(rest))
        return by_id is not None and by_id.is_listed
    if head == "g":
        group = catalog.group(rest)
        return group is not None and group.is_visible and group.is_routable
    return bool(catalog.interfaces_at(path))


async def _notification(
    session: Session, catalog: Catalog, customer_id: uuid.UUID, path: str
) -> dict[str, Any]:
    head, _, rest = path.partition("/")
    if head == "b" and rest:
        found = await queries.broadcast_id(session, customer_id, rest)
        if found is None:
            raise Unprocessable(
                _LOC, f"you have no broadcast named {rest!r}; create it with POST /v1/broadcasts/"
            )
    elif head == "e" and rest:
        code = normalize_code(rest)
        found = (
            None if code is None else await queries.active_enrollment_id(session, customer_id, code)
        )
        if found is None:
            raise Unprocessable(
                _LOC,
                f"you have no active enrollment with the code {rest!r}; "
                "list yours with GET /v1/enrollments/",
            )
    elif not _listed_service_path(catalog, path):
        raise Unprocessable(
            _LOC,
            f"notification must be a service path -- a listed service's name, "
            f"p/<service-id> or g/<group> -- or a b/<broadcast> or e/<CODE> of yours; "
            f"{path!r} is none of them",
        )
    return {"service": path, "gateway": GATEWAY}


async def _ai(
    session: Session, catalog: Catalog, customer_id: uuid.UUID, path: str
) -> dict[str, Any]:
    head, _, rest = path.partition("/")
    if head == "a" and rest:
        found = await queries.live_alias_id(session, customer_id, rest)
        if found is None:
            raise Unprocessable(
                _LOC, f"you have no alias named {rest!r}; create it with POST /v1/aliases/"
            )
        return {"service": path}
    service = catalog.service_by_name(path)
    if service is None or not service.is_listed:
        raise Unprocessable(
            _LOC,
            f"ai must be a listed service's name (e.g. 'demo-small') or a/<alias> of yours; "
            f"{path!r} is neither",
        )
    if service.enrollment_required:
        raise Unprocessable(
            _LOC,
            f"{path!r} needs an enrollment; ai must be a service callable without one",
        )
    return {"service": path}


def _request_log(value: PreferenceValue | str) -> dict[str, Any]:
    if isinstance(value, str) and value in REQUEST_LOG_MODES:
        return {"mode": value}
    raise Unprocessable(
        _LOC,
        "request-log must be one of 'truncated' or 'complete' (null or DELETE turns logging off)",
    )


async def _validated(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    name: str,
    value: PreferenceValue | str,
) -> dict[str, Any]:
    if name == REQUEST_LOG:
        return _request_log(value)
    path = _service_text(name, value)
    if name == NOTIFICATION:
        return await _notification(session, catalog, customer_id, path)
    return await _ai(session, catalog, customer_id, path)


# -- reads -------------------------------------------------------------------------


def _wire_value(name: str, stored: dict[str, Any] | None) -> PreferenceValue | str | None:
    if stored is None:
        return None
    if name == REQUEST_LOG:
        mode = stored.get("mode")
        return mode if isinstance(mode, str) else None
    return PreferenceValue(service=str(stored.get("service", "")), gateway=stored.get("gateway"))


def _public(customer: Customer, name: str, stored: dict[str, Any] | None) -> PreferencePublic:
    value = _wire_value(name, stored)
    return PreferencePublic(
        name=name,
        account=PreferenceAccountPublic(type="customer", id=str(customer.id), name=customer.name),
        can_edit=True,
        value=value,
        effective=value,
        source="account" if value is not None else None,
    )


async def _stored(session: Session, customer_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    return await queries.values(session, customer_id)


async def list_preferences(session: Session, customer: Customer) -> PreferencesPublic:
    """Every preference, as the customer sees it (unset ones included)."""
    stored = await _stored(session, customer.id)
    return PreferencesPublic(data=[_public(customer, name, stored.get(name)) for name in NAMES])


async def get_preference(session: Session, customer: Customer, name: str) -> PreferencePublic:
    """One preference.

    Raises:
        NotFound: ``name`` is not a preference.
    """
    row = await queries.get(session, customer.id, _check_name(name))
    return _public(customer, name, row.value if row is not None else None)


async def _write(
    session: Session, customer_id: uuid.UUID, name: str, value: dict[str, Any] | None
) -> None:
    row = await queries.get(session, customer_id, name)
    if value is None:
        if row is not None:
            await queries.delete(session, row)
    elif row is None:
        queries.add(session, PreferenceRow(customer_id=customer_id, name=name, value=value))
    elif row.value != value:
        row.value = value
    try:
        await queries.flush_unique(session)
    except Duplicate as exc:
        raise Conflict(f"the {name} preference was changed concurrently; retry") from exc


async def set_preference(
    session: Session,
    catalog: Catalog,
    customer: Customer,
    name: str,
    value: PreferenceValue | str | None,
) -> PreferencePublic:
    """Set (or, with ``None``, clear) one preference after validating the value.

    Raises:
        NotFound: ``name`` is not a preference.
        Unprocessable: The value is not allowed for ``name`` (the message says what is).
    """
    _check_name(name)
    stored = None if value is None else await _validated(session, catalog, customer.id, name, value)
    await _write(session, customer.id, name, stored)
    return _public(customer, name, stored)


async def clear_preference(session: Session, customer: Customer, name: str) -> PreferencePublic:
    """Clear one preference (idempotent).

    Raises:
        NotFound: ``name`` is not a preference.
    """
    await _write(session, customer.id, _check_name(name), None)
    return _public(customer, name, None)


# -- request logging ------------------------------------------------------------------


async def request_log_mode(session: Session, customer_id: uuid.UUID) -> RequestLogMode | None:
    """The customer's request-logging mode, ``None`` when logging is off."""
    row = await queries.get(session, customer_id, REQUEST_LOG)
    mode = row.value.get("mode") if row is not None else None
    return "complete" if mode == "complete" else "truncated" if mode == "truncated" else None


async def load_request_log_mode(
    sessions: Sessions, customer_id: uuid.UUID
) -> RequestLogMode | None:
    """:func:`request_log_mode` in a session of its own (the gateway's cache loader)."""
    async with sessions() as session:
        return await request_log_mode(session, customer_id)


async def start_logging(
    session: Session, customer_id: uuid.UUID, truncate_long_message: bool | None
) -> LoggingStatusResponse:
    """``POST /request-logs/start``: set the ``request-log`` preference (idempotent).

    ``True`` selects ``truncated``, ``False`` ``complete``; ``None`` keeps the current mode
    when logging is on and selects ``truncated`` when it is off (turning logging off
    clears the preference, so no earlier mode is remembered).
    """
    mode: RequestLogMode
    if truncate_long_message is None:
        mode = await request_log_mode(session, customer_id) or "truncated"
    else:
        mode = "truncated" if truncate_long_message else "complete"
    await _write(session, customer_id, REQUEST_LOG, {"mode": mode})
    return LoggingStatusResponse(enabled=True)


async def stop_logging(session: Session, customer_id: uuid.UUID) -> LoggingStatusResponse:
    """``POST /request-logs/stop``: clear the ``request-log`` preference (idempotent)."""
    await _write(session, customer_id, REQUEST_LOG, None)
    return LoggingStatusResponse(enabled=False)

"""Queries of the request log (:mod:`unitysvc_server.domain.request_logs`).

Lists are newest first, ``(event_timestamp, id)`` descending, through the index on
``(customer_id, event_timestamp, id)``, paged like every other list
(:mod:`unitysvc_server.storage.queries.keyset`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, insert, or_, select

from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.request_logs import RequestLogRow

__all__ = ["LogFilters", "insert_rows", "listing", "row_for"]


@dataclass(frozen=True, slots=True)
class LogFilters:
    """The list endpoint's filters (all optional)."""

    service_id: uuid.UUID | None = None
    service_enrollment_id: uuid.UUID | None = None
    status_min: int | None = None
    status_max: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    user_request_path: str | None = None
    error_source: str | None = None
    error_type: str | None = None
    gateway_source: str | None = None
    recurrent_request_id: uuid.UUID | None = None


def _conditions(customer_id: uuid.UUID, filters: LogFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [RequestLogRow.customer_id == customer_id]
    if filters.start_time is not None:
        conditions.append(RequestLogRow.event_timestamp >= filters.start_time)
    if filters.end_time is not None:
        conditions.append(RequestLogRow.event_timestamp <= filters.end_time)
    # Filters that each compare one column with the given value, when given.
    compared: list[tuple[object, Callable[[], ColumnElement[bool]]]] = [
        (filters.service_id, lambda: RequestLogRow.service_id == filters.service_id),
        (
            filters.service_enrollment_id,
            lambda: RequestLogRow.service_enrollment_id == filters.service_enrollment_id,
        ),
        (
            filters.recurrent_request_id,
            lambda: RequestLogRow.recurrent_request_id == filters.recurrent_request_id,
        ),
        (filters.status_min, lambda: RequestLogRow.status_code >= filters.status_min),
        (filters.status_max, lambda: RequestLogRow.status_code <= filters.status_max),
        (filters.error_source, lambda: RequestLogRow.error_source == filters.error_source),
        (filters.error_type, lambda: RequestLogRow.error_type == filters.error_type),
        (filters.gateway_source, lambda: RequestLogRow.gateway_source == filters.gateway_source),
    ]
    conditions += [condition() for value, condition in compared if value is not None]
    if filters.user_request_path:
        prefix = filters.user_request_path.lstrip("/")
        # Paths are stored as the gateway saw them; match with or without the
        # leading slash so "p/echo" and "/p/echo" find the same rows.
        conditions.append(
            or_(
                RequestLogRow.path.startswith(prefix, autoescape=True),
                RequestLogRow.path.startswith("/" + prefix, autoescape=True),
            )
        )
    return conditions


async def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert log rows (column values each) in one executemany statement."""
    await session.execute(insert(RequestLogRow), list(rows))


def listing(
    customer_id: uuid.UUID, filters: LogFilters, recent: timedelta | None = None
) -> Listing[RequestLogRow]:
    """The customer's rows matching ``filters``, newest first (paged by :mod:`.keyset`).

    Args:
        customer_id: Whose rows.
        filters: The list endpoint's filters.
        recent: Only rows this recent when a walk over the list began (a default window).
    """
    return Listing(
        RequestLogRow,
        tuple(_conditions(customer_id, filters)),
        RequestLogRow.event_timestamp,
        "time",
        RequestLogRow.id,
        descending=True,
        recent=recent,
    )


async def row_for(
    session: Session, customer_id: uuid.UUID, log_id: uuid.UUID
) -> RequestLogRow | None:
    """The customer's row ``log_id``, if there is one."""
    return await session.scalar(
        select(RequestLogRow).where(
            RequestLogRow.id == log_id, RequestLogRow.customer_id == customer_id
        )
    )

"""Queries of the request log (:mod:`unitysvc_server.domain.request_logs`).

Lists are newest first, ``(event_timestamp, id)`` descending, through the index on
``(customer_id, event_timestamp, id)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, literal, or_, select, tuple_

from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.request_logs import RequestLogRow

__all__ = [
    "LogFilters",
    "count_for",
    "insert_rows",
    "page_after",
    "page_at",
    "row_for",
]


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


_NEWEST_FIRST = (RequestLogRow.event_timestamp.desc(), RequestLogRow.id.desc())
_OLDEST_FIRST = (RequestLogRow.event_timestamp.asc(), RequestLogRow.id.asc())


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


async def count_for(session: Session, customer_id: uuid.UUID, filters: LogFilters) -> int:
    """How many of the customer's rows match ``filters``."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(RequestLogRow)
            .where(*_conditions(customer_id, filters))
        )
        or 0
    )


async def page_at(
    session: Session,
    customer_id: uuid.UUID,
    filters: LogFilters,
    skip: int,
    limit: int,
    total: int,
) -> list[RequestLogRow]:
    """The matching rows ``skip`` to ``skip + limit``, newest first, of ``total`` matching.

    A page nearer the oldest row than the newest is read from the oldest end: the last
    page of a long list costs what the first does.
    """
    after = total - skip - limit  # matching rows older than the page
    if skip >= total:
        return []
    conditions = _conditions(customer_id, filters)
    if after < skip:
        # OFFSET still walks the index entries it skips: walk the fewer ones.
        ids = (
            select(RequestLogRow.id)
            .where(*conditions)
            .order_by(*_OLDEST_FIRST)
            .offset(max(after, 0))
            .limit(min(limit, total - skip))
        )
    else:
        ids = (
            select(RequestLogRow.id)
            .where(*conditions)
            .order_by(*_NEWEST_FIRST)
            .offset(skip)
            .limit(limit)
        )
    # The page's ids by the index alone (OFFSET discards index entries, not rows), then
    # its rows.
    return list(
        await session.scalars(
            select(RequestLogRow)
            .where(RequestLogRow.id.in_(ids.scalar_subquery()))
            .order_by(*_NEWEST_FIRST)
        )
    )


async def page_after(
    session: Session,
    customer_id: uuid.UUID,
    filters: LogFilters,
    after: datetime,
    after_id: uuid.UUID,
    limit: int,
) -> list[RequestLogRow]:
    """The first ``limit`` matching rows older than ``(after, after_id)``, newest first."""
    older = tuple_(RequestLogRow.event_timestamp, RequestLogRow.id) < tuple_(
        literal(after, RequestLogRow.event_timestamp.type),
        literal(after_id, RequestLogRow.id.type),
    )
    return list(
        await session.scalars(
            select(RequestLogRow)
            .where(*_conditions(customer_id, filters), older)
            .order_by(*_NEWEST_FIRST)
            .limit(limit)
        )
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

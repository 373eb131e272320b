"""``/v1/request-logs``: the customer's gateway request logs and the 0.1.22 logging switch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from unitysvc.models import LoggingStatusResponse, RequestLogDetail, RequestLogListResponse
from unitysvc_server.api.deps import MAX_OFFSET, CustomerDep, RuntimeDep, SessionDep
from unitysvc_server.domain import preferences, request_logs

router = APIRouter(prefix="/request-logs", tags=["request-logs"])


def _aware(moment: datetime | None) -> datetime | None:
    # A timestamp without an offset is read as UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("")
async def list_request_logs(
    session: SessionDep,
    customer: CustomerDep,
    skip: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Pagination offset")] = 0,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="The next_cursor of the previous page (keyset paging; a unitysvc "
            "server extension). Omit for the first page; not combined with skip.",
        ),
    ] = None,
    service_id: UUID | None = None,
    service_enrollment_id: UUID | None = None,
    status_min: Annotated[int | None, Query(ge=100, le=599)] = None,
    status_max: Annotated[int | None, Query(ge=100, le=599)] = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    user_request_path: Annotated[str | None, Query(description="Path prefix filter")] = None,
    error_source: str | None = None,
    error_type: str | None = None,
    gateway_source: str | None = None,
    recurrent_request_id: UUID | None = None,
) -> RequestLogListResponse:
    """The customer's logged requests, newest first (default: the last 24 hours)."""
    filters = request_logs.LogFilters(
        service_id=service_id,
        service_enrollment_id=service_enrollment_id,
        status_min=status_min,
        status_max=status_max,
        start_time=_aware(start_time),
        end_time=_aware(end_time),
        user_request_path=user_request_path,
        error_source=error_source,
        error_type=error_type,
        gateway_source=gateway_source,
        recurrent_request_id=recurrent_request_id,
    )
    return await request_logs.list_request_logs(
        session, customer.id, filters, skip=skip, limit=limit, cursor=cursor
    )


@router.post("/start")
async def start_request_logging(
    session: SessionDep, customer: CustomerDep, truncate_long_message: bool | None = None
) -> LoggingStatusResponse:
    """Turn logging on (sets the ``request-log`` preference): ``true`` truncated,
    ``false`` complete, omitted keeps the current mode (``truncated`` when off)."""
    return await preferences.start_logging(session, customer.id, truncate_long_message)


@router.post("/stop")
async def stop_request_logging(session: SessionDep, customer: CustomerDep) -> LoggingStatusResponse:
    """Turn logging off (clears the ``request-log`` preference); recorded rows stay."""
    return await preferences.stop_logging(session, customer.id)


@router.get("/{log_id}")
async def get_request_log(
    log_id: UUID, session: SessionDep, customer: CustomerDep, runtime: RuntimeDep
) -> RequestLogDetail:
    """One logged request with its bodies (full ones in complete mode)."""
    return await request_logs.get_request_log(session, customer.id, log_id, runtime.objects)

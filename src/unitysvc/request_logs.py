"""Request logs: the customer's record of gateway calls (``/v1/request-logs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Unpack
from uuid import UUID

from unitysvc._core import NOT_GIVEN, Flow, NotGiven, PageFlow, RequestOptions, parse
from unitysvc._ops import Async, M, Sync, op, pager
from unitysvc._resource import Resource, walk_offset_or_cursor
from unitysvc.models import (
    LoggingStatusResponse,
    RequestLogDetail,
    RequestLogListItem,
    RequestLogListResponse,
)

__all__ = ["AsyncRequestLogs", "RequestLogs"]


class _RequestLogsOps(Resource[M], Generic[M]):
    @op
    def start(
        self, *, truncate_long_message: bool | None = None, **options: Unpack[RequestOptions]
    ) -> Flow[LoggingStatusResponse]:
        """Enable request logging for the authenticated customer (idempotent).

        Args:
            truncate_long_message: True stores 8 KB previews (``truncated``); False
                stores full bodies (``complete``); None keeps the current mode
                (``truncated`` if none was set).
        """
        response = yield from self._call(
            "POST",
            "/request-logs/start",
            params={"truncate_long_message": truncate_long_message},
            options=options,
        )
        return parse(LoggingStatusResponse, response)

    @op
    def stop(self, **options: Unpack[RequestOptions]) -> Flow[LoggingStatusResponse]:
        """Disable request logging (idempotent); stored rows stay readable."""
        response = yield from self._call("POST", "/request-logs/stop", options=options)
        return parse(LoggingStatusResponse, response)

    @op
    def list(
        self,
        *,
        skip: int = 0,
        limit: int = 50,
        service_id: UUID | None = None,
        service_enrollment_id: UUID | None = None,
        status_min: int | None = None,
        status_max: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        user_request_path: str | None = None,
        error_source: str | None = None,
        error_type: str | None = None,
        gateway_source: str | None = None,
        cursor: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[RequestLogListResponse]:
        """List request logs (no bodies); the last 24 hours unless a range is given.

        Args:
            cursor: The ``next_cursor`` of the previous page (keyset paging, a unitysvc
                server extension; not combined with ``skip``). Omit for the first page.
        """
        response = yield from self._call(
            "GET",
            "/request-logs",
            params={
                "skip": skip,
                "limit": limit,
                "service_id": service_id,
                "service_enrollment_id": service_enrollment_id,
                "status_min": status_min,
                "status_max": status_max,
                "start_time": start_time,
                "end_time": end_time,
                "user_request_path": user_request_path,
                "error_source": error_source,
                "error_type": error_type,
                "gateway_source": gateway_source,
                "cursor": cursor,
            },
            options=options,
        )
        return parse(RequestLogListResponse, response)

    @pager
    def iter(
        self,
        *,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        service_id: UUID | None = None,
        user_request_path: str | None = None,
        page_size: int = 200,
        **options: Unpack[RequestOptions],
    ) -> PageFlow[RequestLogListItem]:
        """Iterate over every matching request-log row, page by page.

        Follows the server's ``next_cursor`` when it gives one (each page as cheap as
        the first); by ``skip``/``limit`` on a server without cursors.
        """
        yield from walk_offset_or_cursor(
            lambda skip, limit, cursor: _RequestLogsOps.list.flow(
                self,
                skip=skip,
                limit=limit,
                start_time=start_time,
                end_time=end_time,
                service_id=service_id,
                user_request_path=user_request_path,
                cursor=cursor,
                **options,
            ),
            lambda page: page.items,
            _next_cursor,
            page_size,
        )

    @op
    def get(self, log_id: UUID | str, **options: Unpack[RequestOptions]) -> Flow[RequestLogDetail]:
        """Get one request log with its (redacted) request and response bodies."""
        response = yield from self._call("GET", f"/request-logs/{log_id}", options=options)
        return parse(RequestLogDetail, response)


def _next_cursor(page: RequestLogListResponse) -> str | None | NotGiven:
    # An older server sends no next_cursor at all: walk it by skip.
    return page.next_cursor if "next_cursor" in page.model_fields_set else NOT_GIVEN


class RequestLogs(_RequestLogsOps[Sync]):
    """Operations on the customer's request log (``/v1/request-logs``)."""


class AsyncRequestLogs(_RequestLogsOps[Async]):
    """Async operations on the customer's request log (``/v1/request-logs``)."""

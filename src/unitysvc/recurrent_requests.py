"""Recurrent requests: gateway calls the platform makes on a schedule.

Create one directly, or with ``svc.schedule(recurrence=...)`` which resolves the
service's interface for you.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Unpack
from uuid import UUID

from unitysvc._core import Flow, PageFlow, RequestOptions, dump, parse, parse_json
from unitysvc._ops import Async, M, Sync, op, pager
from unitysvc._resource import Resource, next_cursor_of, record_id, walk_offset_or_cursor
from unitysvc.models import (
    RecurrentRequestCreate,
    RecurrentRequestPublic,
    RecurrentRequestsPublic,
    RecurrentRequestUpdate,
)

__all__ = ["AsyncRecurrentRequests", "RecurrentRequests"]


class _RecurrentRequestsOps(Resource[M], Generic[M]):
    @op
    def list(
        self,
        *,
        service_id: str | UUID | None = None,
        enrollment_id: str | UUID | None = None,
        status: str | None = None,
        skip: int = 0,
        limit: int = 100,
        cursor: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[RecurrentRequestsPublic]:
        """List recurrent requests, oldest first, optionally filtered by service,
        enrollment, status.

        Args:
            service_id: Only this service's.
            enrollment_id: Only this enrollment's.
            status: Only those in this status.
            skip: Rows to skip.
            limit: Page size.
            cursor: The ``next_cursor`` of the previous page (keyset paging, a unitysvc
                server extension; not combined with ``skip``). Omit for the first page.
        """
        response = yield from self._call(
            "GET",
            "/recurrent-requests/",
            params={
                "service_id": None if service_id is None else record_id(service_id),
                "enrollment_id": None if enrollment_id is None else record_id(enrollment_id),
                "status": status,
                "skip": skip,
                "limit": limit,
                "cursor": cursor,
            },
            options=options,
        )
        return parse(RecurrentRequestsPublic, response)

    @pager
    def iter(
        self,
        *,
        service_id: str | UUID | None = None,
        enrollment_id: str | UUID | None = None,
        status: str | None = None,
        page_size: int = 100,
        **options: Unpack[RequestOptions],
    ) -> PageFlow[RecurrentRequestPublic]:
        """Iterate over every recurrent request, page by page.

        Follows the server's ``next_cursor`` when it gives one (each page as cheap as
        the first); by ``skip``/``limit`` on a server without cursors.
        """
        yield from walk_offset_or_cursor(
            lambda skip, limit, cursor: _RecurrentRequestsOps.list.flow(
                self,
                service_id=service_id,
                enrollment_id=enrollment_id,
                status=status,
                skip=skip,
                limit=limit,
                cursor=cursor,
                **options,
            ),
            lambda page: page.data,
            next_cursor_of,
            page_size,
        )

    @op
    def get(
        self, request_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[RecurrentRequestPublic]:
        """Get a single recurrent request by id."""
        response = yield from self._call(
            "GET", f"/recurrent-requests/{request_id}", options=options
        )
        return parse(RecurrentRequestPublic, response)

    @op
    def create(
        self, body: RecurrentRequestCreate | Mapping[str, object], **options: Unpack[RequestOptions]
    ) -> Flow[RecurrentRequestPublic]:
        """Create a recurrent request (as a draft until a schedule is attached)."""
        response = yield from self._call(
            "POST", "/recurrent-requests/", json=dump(body), creates=True, options=options
        )
        return parse(RecurrentRequestPublic, response)

    @op
    def update(
        self,
        request_id: str | UUID,
        body: RecurrentRequestUpdate | Mapping[str, object],
        **options: Unpack[RequestOptions],
    ) -> Flow[RecurrentRequestPublic]:
        """Update a recurrent request; attaching a ``schedule`` activates a draft."""
        response = yield from self._call(
            "PATCH", f"/recurrent-requests/{request_id}", json=dump(body), options=options
        )
        return parse(RecurrentRequestPublic, response)

    @op
    def trigger(self, request_id: str | UUID, **options: Unpack[RequestOptions]) -> Flow[Any]:
        """Run a recurrent request now; returns the upstream's JSON response."""
        response = yield from self._call(
            "POST", f"/recurrent-requests/{request_id}/trigger", creates=True, options=options
        )
        return parse_json(response)

    @op
    def delete(self, request_id: str | UUID, **options: Unpack[RequestOptions]) -> Flow[Any]:
        """Delete a recurrent request (and its schedule)."""
        response = yield from self._call(
            "DELETE", f"/recurrent-requests/{request_id}", options=options
        )
        return parse_json(response)


class RecurrentRequests(_RecurrentRequestsOps[Sync]):
    """Operations on recurrent requests (``/v1/recurrent-requests``)."""


class AsyncRecurrentRequests(_RecurrentRequestsOps[Async]):
    """Async operations on recurrent requests (``/v1/recurrent-requests``)."""

"""Enrollments: the customer's subscriptions to services (``/v1/enrollments``).

Enrolling is asynchronous: :meth:`Enrollments.create` answers ``pending`` and the
platform activates the enrollment in the background::

    enr = client.enrollments.create(service_id=svc.id, parameters={"base_url": "…"})
    enr = enr.wait()            # polls until active, incomplete or another final state
    print(enr.status, enr.code) # reach it at /e/<code>
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, Unpack, cast
from uuid import UUID

from unitysvc._core import Flow, PageFlow, RequestExtras, RequestOptions, Sleep, parse
from unitysvc._ops import Async, Bound, Context, M, Sync, forward, op, pager
from unitysvc._records import Page, RecordMixin, T, pick_class
from unitysvc._resource import Resource, next_cursor_of, record_id, walk_offset_or_cursor
from unitysvc.models import (
    CustomerEnrollment,
    CustomerEnrollmentCancelResponse,
    CustomerEnrollmentCreateResponse,
    CustomerEnrollmentsResponse,
)

__all__ = [
    "AsyncEnrollment",
    "AsyncEnrollments",
    "Enrollment",
    "EnrollmentList",
    "Enrollments",
]

#: Statuses after which polling stops.
SETTLED_STATUSES = frozenset({"active", "incomplete", "paused", "cancelled"})


class EnrollmentList(Page[T]):
    """A page of enrollments (``data``, ``count``, ``skip``, ``limit``)."""


class _EnrollmentsOps(Resource[M], Generic[M]):
    def _wrap(
        self, record: CustomerEnrollment | CustomerEnrollmentCreateResponse
    ) -> _EnrollmentRecord[M]:
        cls = pick_class(self._ctx, Enrollment, AsyncEnrollment)
        result: _EnrollmentRecord[M] = cls(self._ctx, record)
        return result

    def _page(
        self,
        skip: int,
        limit: int,
        include_service_details: bool,
        cursor: str | None,
        options: RequestOptions,
    ) -> Flow[CustomerEnrollmentsResponse]:
        response = yield from self._call(
            "GET",
            "/enrollments/",
            params={
                "skip": skip,
                "limit": limit,
                "include_service_details": include_service_details,
                "cursor": cursor,
            },
            options=options,
        )
        return parse(CustomerEnrollmentsResponse, response)

    @op
    def list(
        self,
        *,
        skip: int = 0,
        limit: int = 100,
        include_service_details: bool = True,
        cursor: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[EnrollmentList[_EnrollmentRecord[M]]]:
        """List enrollments owned by the calling customer, newest first.

        Args:
            skip: Rows to skip.
            limit: Page size.
            include_service_details: Each enrollment's service summary and endpoint.
            cursor: The ``next_cursor`` of the previous page (keyset paging, a unitysvc
                server extension; not combined with ``skip``). Omit for the first page.

        Returns:
            A page of :class:`Enrollment` records (``next_cursor`` continues it).
        """
        page = yield from self._page(skip, limit, include_service_details, cursor, options)
        return EnrollmentList(
            [self._wrap(item) for item in page.data],
            count=page.count,
            next_cursor=page.next_cursor,
            has_more=page.next_cursor is not None,
            extra={"skip": page.skip, "limit": page.limit},
        )

    @pager
    def iter(
        self,
        *,
        include_service_details: bool = True,
        page_size: int = 100,
        **options: Unpack[RequestOptions],
    ) -> PageFlow[_EnrollmentRecord[M]]:
        """Iterate over every enrollment, page by page.

        Follows the server's ``next_cursor`` when it gives one (each page as cheap as
        the first); by ``skip``/``limit`` on a server without cursors.
        """
        yield from walk_offset_or_cursor(
            lambda skip, limit, cursor: self._page(
                skip, limit, include_service_details, cursor, options
            ),
            lambda page: [self._wrap(item) for item in page.data],
            next_cursor_of,
            page_size,
        )

    @op
    def get(
        self,
        enrollment_id: str | UUID,
        *,
        include_service_details: bool = True,
        **options: Unpack[RequestOptions],
    ) -> Flow[_EnrollmentRecord[M]]:
        """Get one enrollment by UUID."""
        response = yield from self._call(
            "GET",
            f"/enrollments/{record_id(enrollment_id)}",
            params={"include_service_details": include_service_details},
            options=options,
        )
        return self._wrap(parse(CustomerEnrollment, response))

    @op
    def create(
        self,
        *,
        service_id: str | UUID,
        parameters: Mapping[str, object] | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[_EnrollmentRecord[M]]:
        """Enroll in a service (asynchronous — poll with :meth:`Enrollment.refresh`).

        Returns immediately with ``status="pending"``; the platform activates the
        enrollment in a background worker once its parameters are valid.

        Args:
            service_id: Service UUID.
            parameters: User parameters (BYOK/BYOE values, model selection, ...).
                Secret-shaped keys (``api_key``, ``password``, ...) are masked on reads.
        """
        body: dict[str, object] = {"service_id": record_id(service_id)}
        if parameters:
            body["parameters"] = dict(parameters)
        response = yield from self._call(
            "POST", "/enrollments/", json=body, creates=True, options=options
        )
        return self._wrap(parse(CustomerEnrollmentCreateResponse, response))

    @op
    def cancel(
        self, enrollment_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[CustomerEnrollmentCancelResponse]:
        """Cancel (unenroll) — sets status to ``cancelled``.

        Parameters are kept, so re-enrolling with the same parameters reactivates.
        """
        response = yield from self._call(
            "DELETE", f"/enrollments/{record_id(enrollment_id)}", options=options
        )
        return parse(CustomerEnrollmentCancelResponse, response)

    @op
    def wait(
        self,
        enrollment_id: str | UUID,
        *,
        timeout: float = 60.0,
        interval: float = 0.25,
        **options: Unpack[RequestExtras],
    ) -> Flow[_EnrollmentRecord[M]]:
        """Poll an enrollment until it leaves ``pending``.

        Args:
            enrollment_id: Enrollment UUID.
            timeout: Give up after this many seconds.
            interval: First poll interval; grows up to 2 s.
            **options: :class:`~unitysvc.RequestExtras` for each poll (the requests
                use the client's timeout: ``timeout`` here is the polling deadline).

        Returns:
            The settled enrollment (``active``, ``incomplete``, ...).

        Raises:
            TimeoutError: Still pending after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            enrollment = yield from _EnrollmentsOps.get.flow(self, enrollment_id, **options)
            if enrollment.status in SETTLED_STATUSES:
                return cast("_EnrollmentRecord[M]", enrollment)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"enrollment {record_id(enrollment_id)} still {enrollment.status!r} after "
                    f"{timeout:g}s; check it later with client.enrollments.get()"
                )
            yield Sleep(min(interval, remaining))
            interval = min(interval * 2, 2.0)


class Enrollments(_EnrollmentsOps[Sync]):
    """Operations on the customer's enrollments (``/v1/enrollments``)."""


class AsyncEnrollments(_EnrollmentsOps[Async]):
    """Async operations on the customer's enrollments (``/v1/enrollments``)."""


class _EnrollmentRecord(RecordMixin[Any], Bound[M], Generic[M]):
    """An enrollment with its operations pre-bound (active record)."""

    def __init__(
        self, client: Context, record: CustomerEnrollment | CustomerEnrollmentCreateResponse
    ) -> None:
        super().__init__(client)
        self._record = record
        self._manager: _EnrollmentsOps[M] = _EnrollmentsOps(client)

    @property
    def status(self) -> str:
        """``pending``, ``incomplete``, ``active``, ``paused`` or ``cancelled``."""
        value: str = self._record.status
        return value

    @property
    def code(self) -> str | None:
        """The 4-character code of the enrollment's gateway path ``e/<code>``.

        None until the enrollment is fetched again after activation.
        """
        value: str | None = getattr(self._record, "code", None)
        return value

    @property
    def path(self) -> str | None:
        """Gateway path ``e/<code>``, once the enrollment has a code."""
        return f"e/{self.code}" if self.code else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={str(self.id)!r}, status={self.status!r})"

    refresh = forward(_EnrollmentsOps[M].get, "id")
    cancel = forward(_EnrollmentsOps[M].cancel, "id")
    wait = forward(_EnrollmentsOps[M].wait, "id")


if TYPE_CHECKING:
    # To a type checker the public names are exactly what the operations return,
    # so ``svc: Enrollment = client.enrollments.get(...)`` type-checks in user code.
    Enrollment: TypeAlias = _EnrollmentRecord[Sync]
    AsyncEnrollment: TypeAlias = _EnrollmentRecord[Async]
else:

    class Enrollment(_EnrollmentRecord[Sync]):
        """A customer enrollment (active record over ``CustomerEnrollment``)."""

    class AsyncEnrollment(_EnrollmentRecord[Async]):
        """Async flavour of :class:`Enrollment`."""

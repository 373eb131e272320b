"""``/v1/enrollments/``: enrolling in services (activation runs in the background)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Query

from unitysvc.models import (
    CustomerEnrollment,
    CustomerEnrollmentCancelResponse,
    CustomerEnrollmentCreateResponse,
    CustomerEnrollmentsResponse,
    ServiceEnrollmentCreate,
)
from unitysvc_server.api.catalog_deps import CatalogDep
from unitysvc_server.api.deps import (
    CursorQuery,
    CustomerDep,
    LimitQuery,
    RuntimeDep,
    SessionDep,
    SkipQuery,
)
from unitysvc_server.domain import enrollments

router = APIRouter(prefix="/enrollments", tags=["enrollments"])


@router.post("/", status_code=202)
async def create_enrollment(
    body: ServiceEnrollmentCreate,
    background: BackgroundTasks,
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
    runtime: RuntimeDep,
    shared: bool = False,
) -> CustomerEnrollmentCreateResponse:
    """Accept an enrollment as ``pending``; poll ``GET /enrollments/{id}`` for the outcome."""
    row, reused = await enrollments.create_enrollment(
        session, customer.id, body, shared=shared, catalog=catalog, crypto=runtime.crypto
    )
    wake = runtime.hooks.wake_enrollments
    if wake is not None:
        # Runs after the response, i.e. after the row is committed.
        background.add_task(wake)
    return enrollments.create_response(row, reused)


@router.get("/")
async def list_enrollments(
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
    runtime: RuntimeDep,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    include_service_details: bool = True,
    shared: Annotated[
        bool, Query(description="true (default): personal and shared; false: personal only.")
    ] = True,
) -> CustomerEnrollmentsResponse:
    """The caller's enrollments, newest first (secret-shaped parameters masked)."""
    return await enrollments.list_enrollments(
        session,
        customer.id,
        skip=skip,
        limit=limit,
        shared=shared,
        crypto=runtime.crypto,
        catalog=catalog,
        include_service_details=include_service_details,
        cursor=cursor,
    )


@router.get("/{enrollment_id}")
async def get_enrollment(
    enrollment_id: UUID,
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
    runtime: RuntimeDep,
    include_service_details: bool = True,
) -> CustomerEnrollment:
    """One enrollment (``status_reason`` tells why an ``incomplete`` one is not active)."""
    row = await enrollments.get_enrollment(session, customer.id, enrollment_id)
    return enrollments.to_public(
        row, runtime.crypto, catalog, include_service_details=include_service_details
    )


@router.delete("/{enrollment_id}")
async def cancel_enrollment(
    enrollment_id: UUID, session: SessionDep, customer: CustomerDep
) -> CustomerEnrollmentCancelResponse:
    """Cancel; parameters are kept, so enrolling again reactivates it."""
    return await enrollments.cancel_enrollment(session, customer.id, enrollment_id)

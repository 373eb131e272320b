"""``/v1/recurrent-requests``: scheduled gateway calls (drafts, schedules, manual trigger)."""

from __future__ import annotations

import json
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Response

from unitysvc.models import (
    RecurrentRequestCreate,
    RecurrentRequestPublic,
    RecurrentRequestsPublic,
    RecurrentRequestStatusEnum,
    RecurrentRequestUpdate,
)
from unitysvc_server.api.deps import (
    CursorQuery,
    CustomerDep,
    LimitQuery,
    RuntimeDep,
    SessionDep,
    SkipQuery,
)
from unitysvc_server.domain import recurrent_requests as recurrent

router = APIRouter(prefix="/recurrent-requests", tags=["recurrent-requests"])


def _wake_scheduler(runtime: RuntimeDep, background: BackgroundTasks) -> None:
    wake = runtime.hooks.wake_scheduler
    if wake is not None:
        # Runs after the response, i.e. after the change is committed.
        background.add_task(wake)


@router.post("/", status_code=201)
async def create_recurrent_request(
    body: RecurrentRequestCreate,
    session: SessionDep,
    customer: CustomerDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> RecurrentRequestPublic:
    """Create a draft; attach a schedule with PATCH to activate it."""
    row = await recurrent.create_recurrent_request(session, customer.id, body)
    _wake_scheduler(runtime, background)
    return recurrent.recurrent_request_public(row)


@router.get("/")
async def list_recurrent_requests(
    session: SessionDep,
    customer: CustomerDep,
    service_id: UUID | None = None,
    enrollment_id: UUID | None = None,
    status: RecurrentRequestStatusEnum | None = None,
    skip: SkipQuery = 0,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> RecurrentRequestsPublic:
    """List the customer's recurrent requests."""
    return await recurrent.list_recurrent_requests(
        session,
        customer.id,
        service_id=service_id,
        enrollment_id=enrollment_id,
        status=status,
        skip=skip,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{request_id}")
async def get_recurrent_request(
    request_id: UUID, session: SessionDep, customer: CustomerDep
) -> RecurrentRequestPublic:
    """One recurrent request, with its run state."""
    row = await recurrent.get_recurrent_request(session, customer.id, request_id)
    return recurrent.recurrent_request_public(row)


@router.patch("/{request_id}")
async def update_recurrent_request(
    request_id: UUID,
    body: RecurrentRequestUpdate,
    session: SessionDep,
    customer: CustomerDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> RecurrentRequestPublic:
    """Change fields, attach or change the schedule, or move the status."""
    row = await recurrent.update_recurrent_request(session, customer.id, request_id, body)
    _wake_scheduler(runtime, background)
    return recurrent.recurrent_request_public(row)


@router.delete("/{request_id}", status_code=204, response_class=Response)
async def delete_recurrent_request(
    request_id: UUID, session: SessionDep, customer: CustomerDep
) -> Response:
    """Delete a recurrent request; it never fires again."""
    await recurrent.delete_recurrent_request(session, customer.id, request_id)
    return Response(status_code=204)


@router.post("/{request_id}/trigger")
async def trigger_recurrent_request(
    request_id: UUID, session: SessionDep, customer: CustomerDep, runtime: RuntimeDep
) -> Response:
    """Fire the request now, through the gateway, and answer with its response.

    The status is the gateway's answer (the upstream's status, or the gateway's own
    error); the body is returned as is when it is JSON and as a JSON string otherwise,
    so every client can parse it.
    """
    await recurrent.get_recurrent_request(session, customer.id, request_id)
    run_now = runtime.hooks.run_recurrent_now
    if run_now is None:
        raise RuntimeError("the gateway component is not running")
    result = await run_now(request_id, customer.id)
    return Response(
        content=_as_json(result.body, result.content_type),
        status_code=result.status_code,
        media_type="application/json",
    )


def _as_json(body: bytes, content_type: str) -> bytes:
    if not body:
        return b"null"
    if "json" in content_type.lower():
        try:
            json.loads(body)
        except ValueError:
            pass
        else:
            return body
    return json.dumps(body.decode("utf-8", errors="replace")).encode()

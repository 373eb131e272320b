"""Runs of recurrent requests: what one run needs and how its outcome is recorded.

The gateway's scheduler fires due requests; everything it reads or writes goes through
here, as values detached from the session (:class:`Job`, :class:`FireResult`): leasing
the due rows, recording a run, loading one request for ``POST .../trigger``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from unitysvc_server.domain.recurrent_requests import claim_due, next_due_at, record_run
from unitysvc_server.storage.queries import recurrent_requests as queries
from unitysvc_server.storage.session import Sessions
from unitysvc_server.storage.tables.recurrent_requests import RecurrentRequestRow

__all__ = [
    "MAX_RESULT_BYTES",
    "Fire",
    "FireResult",
    "Job",
    "SchedulerStats",
    "lease_due",
    "load_job",
    "store_run",
]

#: Response bodies kept by a run (the trigger endpoint returns them).
MAX_RESULT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Job:
    """What one run needs from a recurrent-request row (detached from the session)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    owner_id: uuid.UUID | None
    method: str
    gateway_path: str
    body_template: dict[str, Any] | None
    headers: dict[str, str]
    run_number: int

    @classmethod
    def from_row(cls, row: RecurrentRequestRow) -> Job:
        """Snapshot a row."""
        return cls(
            id=row.id,
            customer_id=row.customer_id,
            owner_id=row.owner_id,
            method=(row.http_method or "POST").upper(),
            gateway_path=row.gateway_path,
            body_template=row.body_template,
            headers={str(k): str(v) for k, v in (row.request_headers or {}).items()},
            run_number=row.run_count + 1,
        )


@dataclass(frozen=True, slots=True)
class FireResult:
    """The outcome of one run.

    Attributes:
        status_code: The gateway's answer (upstream status, or the gateway's own error).
        headers: Response headers.
        body: Response body (at most :data:`MAX_RESULT_BYTES`).
        error: Short reason when the run failed.
    """

    status_code: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run succeeded (2xx, as ``record_run`` counts it)."""
        return 200 <= self.status_code < 300 and not self.error

    @property
    def content_type(self) -> str:
        """The response's content type (``application/octet-stream`` if none)."""
        for key, value in self.headers:
            if key == b"content-type":
                return value.decode("latin-1")
        return "application/octet-stream"


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    """What a running scheduler has done since start (read by ``/metrics``).

    Attributes:
        ticks: Lease rounds.
        fired: Runs fired.
        failed: Runs fired that did not succeed.
    """

    ticks: int
    fired: int
    failed: int


#: Runs a job through the gateway.
Fire = Callable[[Job], Awaitable[FireResult]]


async def lease_due(
    sessions: Sessions, now: datetime, limit: int = 100
) -> tuple[list[Job], datetime | None]:
    """Claim the rows due at ``now`` (advancing their next run) in one committed transaction.

    Returns:
        The claimed jobs, and when the earliest active request is next due afterwards.
    """
    async with sessions() as session, session.begin():
        rows = await claim_due(session, now, limit=limit)
        return [Job.from_row(row) for row in rows], await next_due_at(session)


async def store_run(
    sessions: Sessions,
    job_id: uuid.UUID,
    result: FireResult,
    at: datetime,
) -> None:
    """Record a run's outcome: last run, counters, last status."""
    async with sessions() as session, session.begin():
        await record_run(
            session, job_id, fired_at=at, status_code=result.status_code, error=result.error
        )


async def load_job(sessions: Sessions, request_id: uuid.UUID, customer_id: uuid.UUID) -> Job | None:
    """The job of one of ``customer_id``'s recurrent requests, or ``None`` (not theirs,
    unknown, or cancelled)."""
    async with sessions() as session:
        row = await queries.owned(session, request_id, customer_id)
        if row is None or row.status == "cancelled":
            return None
        return Job.from_row(row)

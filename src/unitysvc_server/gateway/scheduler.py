"""The recurrent-request scheduler: fire due requests through the gateway as their owner.

The loop is a thin shell with an injected clock and sleep around two transactions per
run. Each tick *leases* the due rows in one short transaction
(``domain.recurrent_runs.lease_due``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
concurrent servers never pick the same row, and ``next_run_at`` moved forward before the
commit). Only after the lease commits does the request run, so a tick fires exactly once
however many servers share the database. The run's outcome (last run, counters, last
status) is recorded in its own transaction (``record_run``).

Runs missed while no server was up are not replayed one by one: the next tick fires once
and schedules the following run after *now*.

Between ticks the loop sleeps until the earliest ``next_run_at`` (read in the lease's
transaction), at most :data:`IDLE_SECONDS`, so an idle server does not poll the database
several times a second. A change made through this server's API (a request created,
rescheduled or resumed) wakes it at once
(``runtime.hooks.wake_scheduler``); one made through another
server sharing the database is seen within :data:`IDLE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from unitysvc_server.clock import utcnow
from unitysvc_server.domain.recurrent_runs import (
    Fire,
    FireResult,
    Job,
    SchedulerStats,
    lease_due,
    store_run,
)
from unitysvc_server.domain.sessions import Sessions

logger = logging.getLogger("unitysvc_server.gateway.scheduler")

#: Longest sleep between ticks: how late a schedule changed by another server is seen.
IDLE_SECONDS = 2.0
#: Shortest sleep between ticks: rows due but locked by another server are retried
#: after this, not in a busy loop.
MIN_PAUSE_SECONDS = 0.05

_TEMPLATES = SandboxedEnvironment(autoescape=False)


def render_body(template: dict[str, Any] | None, context: dict[str, Any]) -> bytes | None:
    """The JSON body of a run: the template with ``{{ ... }}`` strings rendered.

    String values containing ``{{`` are rendered in a Jinja sandbox with ``now`` (ISO
    timestamp), ``run_number`` and ``request_id``; everything else is sent as stored.
    """
    if template is None:
        return None

    def walk(value: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            return _TEMPLATES.from_string(value).render(context)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return json.dumps(walk(template)).encode()


class Scheduler:
    """The background loop that leases and fires due recurrent requests.

    Args:
        sessionmaker: Database sessions.
        fire: Runs a job through the gateway.
        spawn: Runs a background coroutine the server drains at shutdown.
        clock: The current aware UTC time.
        idle_seconds: Longest sleep between ticks (see :data:`IDLE_SECONDS`).
    """

    def __init__(
        self,
        sessionmaker: Sessions,
        fire: Fire,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        *,
        clock: Callable[[], datetime] = utcnow,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._fire = fire
        self._spawn = spawn
        self._clock = clock
        self._idle = idle_seconds
        self._stopping = False
        self._wakeup = asyncio.Event()
        #: When the earliest active request is next due, as of the last tick.
        self.next_due: datetime | None = None
        #: Ticks, runs fired and runs that failed since start (read by ``/metrics``).
        self.ticks = 0
        self.fired = 0
        self.failed = 0

    def stats(self) -> SchedulerStats:
        """Ticks, runs fired and runs failed since start."""
        return SchedulerStats(self.ticks, self.fired, self.failed)

    async def tick(self) -> int:
        """Lease what is due now and start each run; returns how many were started."""
        now = self._clock()
        self.ticks += 1
        jobs, self.next_due = await lease_due(self._sessionmaker, now)
        for job in jobs:
            self._spawn(self._run_quietly(job))
        return len(jobs)

    def pause(self) -> float:
        """Seconds to sleep before the next tick: until the next due run, within bounds."""
        if self.next_due is None:
            return self._idle
        until = (self.next_due - self._clock()).total_seconds()
        return min(self._idle, max(MIN_PAUSE_SECONDS, until))

    def wake(self) -> None:
        """Tick now rather than at the planned time (a schedule changed)."""
        self._wakeup.set()

    async def _run_quietly(self, job: Job) -> None:
        await self.run(job)

    async def run(self, job: Job) -> FireResult:
        """Fire one job and record its outcome."""
        started = self._clock()
        try:
            result = await self._fire(job)
        except Exception as exc:
            logger.exception("recurrent request %s failed to run", job.id)
            result = FireResult(500, [], b"", error=f"{type(exc).__name__}: {exc}")
        self.fired += 1
        if not result.ok:
            self.failed += 1
        try:
            await store_run(self._sessionmaker, job.id, result, started)
        except Exception:
            logger.exception("could not record the run of recurrent request %s", job.id)
        return result

    async def loop(self) -> None:
        """Tick until :meth:`stop`; a failing tick is logged and retried after the idle pause."""
        while not self._stopping:
            self._wakeup.clear()  # a wake during the tick below still counts
            try:
                await self.tick()
            except Exception:
                self.next_due = None
                logger.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.pause())

    def stop(self) -> None:
        """End the loop now (a run in progress is drained by the caller)."""
        self._stopping = True
        self._wakeup.set()

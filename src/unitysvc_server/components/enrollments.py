"""The enrollment worker: activates pending enrollments in the background.

A component. It wakes when ``POST /v1/enrollments/`` has committed a pending
row (the route calls :meth:`EnrollmentWorker.wake` after the response), and
also sweeps for pending rows every few seconds, so rows left pending by a
crash or by another server process are activated too. Each row is handled in
its own transaction, locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) so two
processes never activate the same row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from unitysvc_server.domain import enrollments
from unitysvc_server.runtime import Runtime

logger = logging.getLogger(__name__)


class EnrollmentWorker:
    """Background activation of pending enrollments.

    Args:
        sweep_seconds: How often to look for pending rows without a wake-up.
    """

    def __init__(self, sweep_seconds: float = 5.0) -> None:
        self.sweep_seconds = sweep_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Process pending enrollments now."""
        self._wake.set()

    async def start(self, runtime: Runtime) -> None:
        """Start the worker loop and offer :meth:`wake` as ``runtime.hooks.wake_enrollments``."""
        self._wake = asyncio.Event()
        self._wake.set()  # pick up rows left pending before this start
        runtime.hooks.wake_enrollments = self.wake
        self._task = runtime.background.spawn(self._loop(runtime), name="enrollment-worker")

    async def stop(self, runtime: Runtime) -> None:
        """Stop the loop (an activation in progress is rolled back and redone later)."""
        runtime.hooks.wake_enrollments = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self, runtime: Runtime) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.sweep_seconds)
            self._wake.clear()
            try:
                await self.run_once(runtime)
            except Exception:
                logger.exception("enrollment worker pass failed; retrying on the next sweep")

    async def run_once(self, runtime: Runtime) -> int:
        """Activate every pending enrollment; returns how many were processed."""
        async with runtime.sessionmaker() as session:
            ids = await enrollments.pending_ids(session)
        done = 0
        for enrollment_id in ids:
            if await self._process(runtime, enrollment_id):
                done += 1
        return done

    async def _process(self, runtime: Runtime, enrollment_id: uuid.UUID) -> bool:
        async with runtime.transaction() as session:
            row = await enrollments.lock_pending(session, enrollment_id)
            if row is None:
                return False
            catalog = runtime.catalog
            if catalog is None:  # pragma: no cover - the catalog component starts first
                raise RuntimeError("the catalog is not loaded")
            await enrollments.activate(session, row, catalog, runtime.crypto)
            logger.info("enrollment %s in service %s: %s", row.id, row.service_id, row.status)
            return True

"""Batched, asynchronous request-log writer.

The logging stage hands finished records to :meth:`LogWriter.submit`, which only appends
to an in-memory queue: writing a log never delays a response. One background task takes
whatever has accumulated (up to ``batch_size``), writes it in one transaction, and repeats.
:meth:`LogWriter.close` stops taking new records and drains the queue before returning, so
a clean shutdown loses no row. A failed batch is retried with backoff; records are only
dropped (and counted in :attr:`dropped`) if a batch keeps failing at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger("unitysvc_server.gateway")

T = TypeVar("T")

WriteBatch = Callable[[Sequence[T]], Awaitable[None]]


class LogWriter(Generic[T]):
    """Queue records and write them in batches off the response path.

    Args:
        write_batch: Persists a batch in one transaction (raises on failure).
        batch_size: Most records per transaction.
        retry_delays: Backoff between attempts of a failing batch.
    """

    def __init__(
        self,
        write_batch: WriteBatch[T],
        *,
        batch_size: int = 200,
        retry_delays: Sequence[float] = (0.05, 0.2, 1.0, 2.0),
    ) -> None:
        self._write_batch = write_batch
        self._batch_size = batch_size
        self._retry_delays = tuple(retry_delays)
        self._queue: deque[T] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.dropped = 0

    def start(self) -> None:
        """Start the background task (inside the running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="unitysvc-request-log-writer"
            )

    def submit(self, record: T) -> None:
        """Queue a record; returns at once.

        Records submitted after :meth:`close` began are still written if the drain has
        not finished; ones arriving after that are counted as dropped.
        """
        if self._task is None or self._task.done():
            self.dropped += 1
            logger.warning("request log dropped: the log writer is not running")
            return
        self._queue.append(record)
        self._idle.clear()
        self._wakeup.set()

    @property
    def pending(self) -> int:
        """Records queued and not yet written."""
        return len(self._queue)

    async def flush(self) -> None:
        """Wait until everything submitted so far is written."""
        await self._idle.wait()

    async def close(self) -> None:
        """Write everything queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            await self._write_with_retries(batch)

    async def _write_with_retries(self, batch: list[T]) -> None:
        for attempt, delay in enumerate((*self._retry_delays, None)):
            try:
                await self._write_batch(batch)
            except Exception:
                if delay is None:
                    self.dropped += len(batch)
                    logger.exception(
                        "request log batch of %d lost after %d attempts", len(batch), attempt + 1
                    )
                    return
                logger.warning("request log batch failed; retrying in %.2fs", delay, exc_info=True)
                await asyncio.sleep(delay)
            else:
                self.written += len(batch)
                return

"""The live state of one platform process, shared by the API, the gateway and workers.

A :class:`Runtime` is created by :func:`unitysvc_server.app.create_app` and
reachable from request handlers as ``request.app.state.runtime``. Long-lived
parts of the platform (catalog loader, enrollment worker, gateway, scheduler)
are *components*: objects with ``async start(runtime)`` / ``async stop(runtime)``,
started in list order and stopped in reverse.

Every part is an explicit, typed attribute: what the runtime builds itself (database,
crypto, object store, latency tracker) is constructed once here; what a component
offers the others once started (the catalog, the demo upstreams' URL, the gateway app,
:class:`Hooks`) is a typed field the component sets on start and clears on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from unitysvc_server.config import Settings
from unitysvc_server.crypto import SecretBox, load_secret_key
from unitysvc_server.domain.key_cache import KeyCache
from unitysvc_server.invalidation import make_bus
from unitysvc_server.routing.selection import LatencyTracker
from unitysvc_server.storage import db
from unitysvc_server.storage.objects import ObjectStore

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from unitysvc_server.catalog.model import Catalog
    from unitysvc_server.domain.recurrent_runs import FireResult, SchedulerStats

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: How often a SQLite process checkpoints the WAL (its writer's commits never do).
CHECKPOINT_SECONDS = 1.0


class Component(Protocol):
    """A long-lived part of the platform with a start/stop lifecycle."""

    async def start(self, runtime: Runtime) -> None:
        """Acquire resources; raise to abort platform start-up."""

    async def stop(self, runtime: Runtime) -> None:
        """Release resources; must not raise for an orderly shutdown."""


class BackgroundTasks:
    """Registry of fire-and-forget tasks, cancelled and awaited on shutdown.

    ``asyncio.create_task`` alone keeps only a weak reference (a task can be
    garbage-collected mid-flight) and leaves tasks running past shutdown; this
    keeps strong references and logs failures instead of losing them.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Run ``coro`` in the background and track it until it finishes.

        Raises:
            RuntimeError: The registry is already shut down.
        """
        if self._closed:
            coro.close()
            raise RuntimeError("the platform is shutting down; no new background tasks")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "background task %s failed",
                task.get_name(),
                exc_info=task.exception(),
            )

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Refuse new tasks, give running ones ``grace_seconds``, then cancel them."""
        self._closed = True
        if not self._tasks:
            return
        pending = set(self._tasks)
        _, still_running = await asyncio.wait(pending, timeout=grace_seconds)
        for task in still_running:
            task.cancel()
        if still_running:
            await asyncio.gather(*still_running, return_exceptions=True)


@dataclass(slots=True)
class Hooks:
    """What running components offer each other; ``None`` while the offering one is down.

    Attributes:
        wake_enrollments: Process pending enrollments now (the enrollment worker).
        wake_scheduler: Look at the recurrent requests now (the gateway's scheduler).
        run_recurrent_now: Fire one of a customer's recurrent requests now and record
            the run (the gateway): ``(request_id, customer_id) -> FireResult``.
        scheduler_stats: What the gateway's scheduler has done since start (metrics).
    """

    wake_enrollments: Callable[[], None] | None = None
    wake_scheduler: Callable[[], None] | None = None
    run_recurrent_now: Callable[[uuid.UUID, uuid.UUID], Awaitable[FireResult]] | None = None
    scheduler_stats: Callable[[], SchedulerStats] | None = None


class Runtime:
    """Everything a running platform shares: settings, database, crypto, catalog.

    Attributes:
        settings: The process settings, with ``secret_key`` resolved (never None).
        engine: The async SQLAlchemy engine (on SQLite: the readers' pool).
        writer: SQLite's one writer connection (:func:`~unitysvc_server.storage.db.sqlite_writer`);
            ``None`` on PostgreSQL. Sessions choose it themselves at their first write.
        invalidation: The cross-process cache-invalidation bus every process on this
            database shares; sessions publish their commits' invalidations to it.
        sessionmaker: Factory of :class:`AsyncSession` (``expire_on_commit=False``).
        keys: The control plane's authenticated keys (bus-invalidated).
        crypto: Encrypts/decrypts values at rest (customer secrets).
        objects: The object store under the data directory (uploaded files, full
            request-log bodies).
        latency: The shared latency tracker: the gateway feeds it, ``lowest_latency``
            selection and ``/v1/resolve`` read it.
        catalog: The loaded catalog, set by the catalog component.
        demo_upstreams: The demo's mock upstream base URL (``--demo`` only), set by the
            catalog component.
        gateway_app: ASGI app serving every non-``/v1`` path, set by the
            gateway component; ``None`` answers those paths 404.
        hooks: What running components offer each other.
        background: Tracked background tasks (cancelled on shutdown).
        components: The components, in start order.
    """

    def __init__(self, settings: Settings, components: Sequence[Component] = ()) -> None:
        # The resolved secret key is folded into the settings so every reader
        # (file-ticket signing, crypto) sees the same key, wherever it came from.
        self.settings = dataclasses.replace(settings, secret_key=load_secret_key(settings))
        engine, writer = db.engines_for(settings)
        self.engine: AsyncEngine = engine
        self.writer: AsyncEngine | None = writer
        self.invalidation = make_bus(settings.resolved_database_url, settings.redis_url)
        self.sessionmaker: async_sessionmaker[AsyncSession] = db.make_sessionmaker(
            self.engine, self.invalidation, self.writer
        )
        self.keys = KeyCache()
        self.invalidation.subscribe(self.keys.apply)
        self.crypto = SecretBox(self.settings.secret_key or "")
        self.objects = ObjectStore.for_data_dir(self.settings.data_dir)
        self.latency = LatencyTracker()
        self.catalog: Catalog | None = None
        self.demo_upstreams: str | None = None
        self.gateway_app: ASGIApp | None = None
        self.hooks = Hooks()
        self.background = BackgroundTasks()
        self.components: list[Component] = list(components)
        self.startup_error: BaseException | None = None
        self._started: list[Component] = []
        self._checkpoints: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Runtime(api_url={self.settings.api_url!r})"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Yield a session inside one transaction: commit on success, rollback on error.

        On exit the commit's cache invalidations have reached every other process.
        """
        async with self.sessionmaker() as session, session.begin():
            yield session
        await self.invalidation.flush()

    async def start(self) -> None:
        """Migrate the schema and start every component in order.

        If a component fails to start, the ones already started are stopped
        (reverse order) before the error propagates.
        """
        try:
            # On SQLite through the writer: one BEGIN IMMEDIATE transaction, so processes
            # starting together (``--workers``) migrate one after the other.
            await db.migrate(self.writer or self.engine)
            if self.writer is not None:
                self._checkpoints = asyncio.get_running_loop().create_task(
                    self._checkpoint_forever(), name="unitysvc-wal-checkpoint"
                )
            await self.invalidation.start()
            for component in self.components:
                await component.start(self)
                self._started.append(component)
        except BaseException as exc:
            self.startup_error = exc
            await self.stop()
            raise

    async def _checkpoint_forever(self) -> None:
        """SQLite: checkpoint the WAL beside the writer (its commits never do)."""
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await db.checkpoint(self.engine)
            except Exception as exc:
                logger.warning("WAL checkpoint failed (retrying): %s", exc)

    async def stop(self) -> None:
        """Stop started components in reverse order, drain tasks, close the database."""
        while self._started:
            component = self._started.pop()
            try:
                await component.stop(self)
            except Exception:
                logger.exception("component %s failed to stop", type(component).__name__)
        await self.background.close()
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            self._checkpoints = None
        await self.invalidation.close()
        await self.engine.dispose()
        if self.writer is not None:
            await self.writer.dispose()

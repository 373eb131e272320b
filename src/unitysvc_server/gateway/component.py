"""The gateway as a platform component: wires the parts and owns their lifecycle.

``start`` creates the SSRF address policy and the shared upstream client that applies
it, the memoize store, the request-log writer, the dispatcher and the scheduler, then
publishes the ASGI app as ``runtime.gateway_app`` (and its scheduler's hooks in
``runtime.hooks``). ``stop`` stops the scheduler, waits for the gateway's own
background work (tee copies, cache stores, scheduled runs) so their log rows are queued,
drains the log writer — no row is lost on a clean shutdown — and closes the client, the
cache and the rate limiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from unitysvc_server.crypto import hash_api_key
from unitysvc_server.domain import customers
from unitysvc_server.domain.caller_context import CallerContext, read_caller_context
from unitysvc_server.domain.customers import looks_like_key
from unitysvc_server.domain.errors import Conflict
from unitysvc_server.domain.preferences import load_request_log_mode
from unitysvc_server.domain.recurrent_runs import FireResult, load_job
from unitysvc_server.domain.request_logs import (
    LogMode,
    RequestLogRecord,
    body_object_key,
    write_log_rows,
)
from unitysvc_server.domain.usage import UsageEvent, write_usage_events
from unitysvc_server.gateway.asgi import GatewayApp
from unitysvc_server.gateway.budgets import BudgetGate
from unitysvc_server.gateway.cache import ResponseCache, make_cache
from unitysvc_server.gateway.catalog_router import CatalogRouter
from unitysvc_server.gateway.contextcache import TTLCache
from unitysvc_server.gateway.dispatcher import Dispatcher
from unitysvc_server.gateway.instruments import GatewayInstruments, NoInstruments
from unitysvc_server.gateway.logwriter import LogWriter
from unitysvc_server.gateway.metering import Metering
from unitysvc_server.gateway.pipeline import Caller
from unitysvc_server.gateway.ratelimit import RateLimiter, make_limiter
from unitysvc_server.gateway.scheduler import Scheduler
from unitysvc_server.gateway.ssrf import Destinations
from unitysvc_server.gateway.upstream import make_client
from unitysvc_server.invalidation import watch_tables
from unitysvc_server.runtime import Runtime

logger = logging.getLogger("unitysvc_server.gateway")

#: How long an authenticated key, a logging preference or a caller context is kept
#: without a database read. Every change — in this process or another sharing the
#: database, the CLI included — drops the entries it affects at once through the
#: runtime's invalidation bus; this only bounds an entry if an invalidation were lost.
CONTEXT_TTL_SECONDS = 5.0
#: Tables whose committed changes invalidate the gateway's caches (per customer).
CACHED_TABLES = (
    "api_keys",
    "customers",
    "preferences",
    "secrets",
    "enrollments",
    "collections",
    "collection_members",
    "aliases",
    "budgets",
)
#: How long stop() waits for tee copies, cache stores and scheduled runs.
DRAIN_SECONDS = 10.0


class GatewayComponent:
    """The gateway's start/stop lifecycle (see the module docstring).

    Attributes:
        instruments: What builds the parts an observer wraps (metrics, traces); set by
            the app before start, :class:`NoInstruments` by default.
    """

    def __init__(self, instruments: GatewayInstruments | None = None) -> None:
        self.instruments: GatewayInstruments = instruments or NoInstruments()
        self._unsubscribe: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = asyncio.Event()
        self._scheduler_task: asyncio.Task[None] | None = None
        # Keyed by the key's stored hash; never served past its TTL (revocation).
        self._auth_cache: TTLCache[str, Caller] = TTLCache(CONTEXT_TTL_SECONDS, serve_stale=False)
        self._preference_cache: TTLCache[uuid.UUID, LogMode | None] = TTLCache(CONTEXT_TTL_SECONDS)
        self._caller_cache: TTLCache[uuid.UUID, CallerContext] = TTLCache(CONTEXT_TTL_SECONDS)
        self.budgets: BudgetGate | None = None

    async def start(self, runtime: Runtime) -> None:
        """Build the gateway and publish it as ``runtime.gateway_app``."""
        settings = runtime.settings
        self._runtime = runtime
        self._stopping = asyncio.Event()
        watch_tables(CACHED_TABLES)
        self._unsubscribe = [
            runtime.invalidation.subscribe(cache.apply)
            for cache in (self._auth_cache, self._preference_cache, self._caller_cache)
        ]
        self.budgets = BudgetGate(runtime.sessionmaker, CONTEXT_TTL_SECONDS)
        self._unsubscribe.append(runtime.invalidation.subscribe(self.budgets.apply))
        self.objects = runtime.objects
        self.destinations = Destinations(
            settings.allow_private_upstreams, overrides=settings.resolve
        )
        observe = self.instruments
        self.client = observe.upstream_pool(make_client, self.destinations)
        self.cache: ResponseCache = make_cache(settings.redis_url)
        # Usage events and log rows share one writer: a call's event is queued before its
        # log row (the metering stage is inside the logging one), so it is never later.
        self.writer: LogWriter[RequestLogRecord | UsageEvent] = LogWriter(
            observe.log_writes(self._write_logs)
        )
        self.writer.start()
        self.resolver = CatalogRouter(runtime, self._caller_context)
        self._unsubscribe.append(runtime.invalidation.subscribe(self.resolver.rendered.apply))
        self.dispatcher = Dispatcher(
            resolver=observe.resolver(self.resolver),
            sessionmaker=runtime.sessionmaker,
            client=self.client,
            cache=self.cache,
            submit_log=self.writer.submit,
            preference=self._preference,
            spawn=self.spawn,
            caller_context=self._caller_context,
            metering=Metering(observe.usage(self.writer.submit)),
            budgets=self.budgets,
            # The scheduler is built just below; a d/ or r/ call only wakes it later.
            wake=lambda: self.scheduler.wake(),
        )
        # Shared by every process on the same Redis, like the memoize store.
        self.limiter: RateLimiter = make_limiter(
            settings.rate_limit_rps or 0, settings.rate_limit_burst, settings.redis_url
        )
        self.scheduler = Scheduler(
            runtime.sessionmaker, observe.scheduled_runs(self.dispatcher.fire), self.spawn
        )
        if settings.scheduler_enabled:
            self._scheduler_task = runtime.background.spawn(
                self.scheduler.loop(), name="unitysvc-scheduler"
            )
            runtime.hooks.wake_scheduler = self.scheduler.wake
        runtime.hooks.run_recurrent_now = self.fire_now
        runtime.hooks.scheduler_stats = self.scheduler.stats
        runtime.gateway_app = observe.gateway_app(
            GatewayApp(
                self.dispatcher,
                observe.authenticate(self._authenticate),
                self.limiter,
                check_invalidations=runtime.invalidation.check,
                observe=observe.door_observer(),
            )
        )
        _freeze_startup_heap()

    async def stop(self, runtime: Runtime) -> None:
        """Stop the scheduler, drain background work and the log writer, close clients."""
        runtime.hooks.wake_scheduler = None
        runtime.hooks.run_recurrent_now = None
        runtime.hooks.scheduler_stats = None
        self.scheduler.stop()
        self._stopping.set()
        if self._scheduler_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._scheduler_task), DRAIN_SECONDS)
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)
            for task in late:
                task.cancel()
        if self.budgets is not None:
            await self.budgets.drain()
        await self.writer.close()
        await self.client.close()
        await self.cache.close()
        await self.limiter.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    # -- shared services for the stages -----------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run gateway background work, tracked so ``stop`` can wait for it."""
        task = self._runtime.background.spawn(coro, name="unitysvc-gateway")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _authenticate(self, token: str) -> Caller | None:
        async def load() -> tuple[Caller, uuid.UUID] | None:
            customer = await customers.authenticate_with(self._runtime.sessionmaker, token)
            if customer is None:
                return None
            return Caller(customer.id, key_id=customer.key_id), customer.id

        if not looks_like_key(token):
            return None
        return await self._auth_cache.get_or_load(hash_api_key(token), load)

    async def _preference(self, customer_id: uuid.UUID) -> LogMode | None:
        async def load() -> tuple[LogMode | None, uuid.UUID]:
            return await load_request_log_mode(self._runtime.sessionmaker, customer_id), customer_id

        return await self._preference_cache.get_or_load(customer_id, load)

    async def _caller_context(self, customer_id: uuid.UUID) -> CallerContext:
        catalog = self.resolver.catalog()

        async def load() -> tuple[CallerContext, uuid.UUID]:
            context = await read_caller_context(self._runtime.sessionmaker, customer_id, catalog)
            return context, customer_id

        context = await self._caller_cache.get_or_load(customer_id, load)
        if context is None:  # pragma: no cover - the loader never answers "nothing"
            raise RuntimeError("caller context loader returned nothing")
        return context

    async def _write_logs(self, batch: Sequence[RequestLogRecord | UsageEvent]) -> None:
        events = [item for item in batch if isinstance(item, UsageEvent)]
        records = [
            await self._store_bodies(item) for item in batch if isinstance(item, RequestLogRecord)
        ]
        async with self._runtime.transaction() as session:
            await write_usage_events(session, events)
            await write_log_rows(session, records)

    async def _store_bodies(self, record: RequestLogRecord) -> RequestLogRecord:
        """Put a complete-mode record's full bodies in the object store; set their keys."""
        full = record.request_body_full
        if full is not None and record.request_body_truncated:
            record.request_body_key = body_object_key(record.customer_id, record.log_id, "request")
            await self.objects.put(record.request_body_key, full)
        full = record.response_body_full
        if full is not None and len(full) > len(record.response_body_preview):
            key = body_object_key(record.customer_id, record.log_id, "response")
            record.response_body_key = key
            await self.objects.put(key, full)
        return record

    # -- scheduler entry point ----------------------------------------------------

    async def fire_now(self, request_id: uuid.UUID, customer_id: uuid.UUID) -> FireResult:
        """Run one of the customer's recurrent requests now and record the run."""
        job = await load_job(self._runtime.sessionmaker, request_id, customer_id)
        if job is None:
            raise Conflict(
                f"recurrent request {request_id} is cancelled (or not yours); "
                "cancelled requests cannot be triggered"
            )
        return await self.scheduler.run(job)


def _freeze_startup_heap() -> None:
    """Move everything allocated at start-up out of the cyclic garbage collector's reach.

    The loaded catalog, FastAPI, pydantic and SQLAlchemy leave ~200k long-lived objects;
    every full collection walked them all (about 70 ms here, the whole p99 at 32
    concurrent requests). They live as long as the process, so freezing them costs
    nothing. Only in a server's main thread: a platform run in a test thread shares its
    process with other platforms, whose garbage must stay collectable.
    """
    if threading.current_thread() is threading.main_thread():
        gc.collect()
        gc.freeze()

"""Metrics and traces of a platform process: ``--metrics`` and ``--otel-endpoint``.

:class:`Observability` is the platform component that owns both and hands the other
parts the few hooks they need (each returns its argument unchanged when the feature is
off, so a platform without them runs exactly the code it ran before):

* :mod:`.metrics` (``prometheus_client``) — imported only with ``--metrics``;
* :mod:`.tracing` (OpenTelemetry SDK, the ``otel`` extra) — imported only with
  ``--otel-endpoint``;
* :mod:`.gather` — with ``--workers N``, ``/metrics`` answers for every worker;
* :mod:`.endpoint` — ``GET /metrics``: 404 when off, the admin token unless public.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from unitysvc_server.config import Settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from unitysvc_server.domain.recurrent_runs import Fire
    from unitysvc_server.domain.usage import UsageEvent
    from unitysvc_server.gateway.asgi import Authenticate, DoorObserver
    from unitysvc_server.gateway.dispatcher import Resolver
    from unitysvc_server.gateway.h1client import UpstreamPool
    from unitysvc_server.gateway.ssrf import Destinations
    from unitysvc_server.observability.gather import WorkerMetrics
    from unitysvc_server.observability.metrics import PlatformMetrics
    from unitysvc_server.observability.tracing import Tracing
    from unitysvc_server.runtime import Runtime

__all__ = ["Observability", "TracingUnavailable"]

T = TypeVar("T")


class TracingUnavailable(RuntimeError):
    """``--otel-endpoint`` was given but the OpenTelemetry SDK is not installed."""


class Observability:
    """The metrics and tracer of one platform, and the hooks that feed them.

    Args:
        settings: ``metrics`` and ``otel_endpoint`` decide what is on.

    Raises:
        TracingUnavailable: Tracing is asked for without the ``otel`` extra.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics: PlatformMetrics | None = None
        self.tracing: Tracing | None = None
        self._workers: WorkerMetrics | None = None
        if settings.otel_endpoint is not None:
            try:
                from unitysvc_server.observability.tracing import Tracing
            except ImportError as exc:
                raise TracingUnavailable(
                    f"--otel-endpoint needs the OpenTelemetry SDK ({exc.name} is missing): "
                    "pip install 'unitysvc[otel]'"
                ) from None
            self.tracing = Tracing(settings.otel_endpoint)

    @property
    def active(self) -> bool:
        """Whether metrics or traces are on."""
        return self.settings.metrics or self.tracing is not None

    # -- lifecycle ----------------------------------------------------------------

    def attach(self, runtime: Runtime) -> None:
        """Create the metrics of ``runtime`` (they read its catalog and scheduler when
        used)."""
        if self.settings.metrics and self.metrics is None:
            from unitysvc_server.observability.metrics import PlatformMetrics
            from unitysvc_server.workers import current_worker

            self.metrics = PlatformMetrics(runtime)
            worker = current_worker()
            if worker is not None and worker.count > 1:
                from unitysvc_server.observability.gather import WorkerMetrics

                self._workers = WorkerMetrics(worker, self.metrics.registry)

    async def start(self, runtime: Runtime) -> None:
        """In a ``--workers`` server, answer the other workers' scrapes."""
        if self._workers is not None:
            await self._workers.start()

    async def stop(self, runtime: Runtime) -> None:
        """Send the spans still queued (started first, this stops after the gateway)."""
        if self._workers is not None:
            await self._workers.stop()
        if self.tracing is not None:
            self.tracing.shutdown()

    async def render_metrics(self) -> bytes:
        """``/metrics``' body: this process's metrics, or every worker's with ``--workers``.

        Raises:
            RuntimeError: Metrics are off.
            WorkerSilent: Another worker did not send its figures.
        """
        if self.metrics is None:
            raise RuntimeError("metrics are off")
        if self._workers is not None:
            return await self._workers.render()
        return self.metrics.render()

    # -- hooks for the API and the gateway -------------------------------------

    def api(self, app: ASGIApp) -> ASGIApp:
        """The control-plane stack, counted when metrics are on."""
        if self.metrics is None:
            return app
        from unitysvc_server.observability.metrics import ApiMetrics

        return ApiMetrics(app, self.metrics)

    def gateway_app(self, app: ASGIApp) -> ASGIApp:
        """The gateway door, traced when tracing is on."""
        return app if self.tracing is None else self.tracing.gateway_app(app)

    def door_observer(self) -> DoorObserver | None:
        """What the gateway door reports each answered request to (metrics), if anything."""
        return None if self.metrics is None else self.metrics.observe_gateway

    def upstream_pool(
        self, make: Callable[..., UpstreamPool], destinations: Destinations
    ) -> UpstreamPool:
        """The shared upstream client: ``make(destinations)``, traced when tracing is on."""
        if self.tracing is None:
            return make(destinations)
        return make(destinations, factory=self.tracing.upstream_pool)

    def resolver(self, resolver: Resolver) -> Resolver:
        """The gateway's resolver, traced when tracing is on."""
        return resolver if self.tracing is None else self.tracing.resolver(resolver)

    def authenticate(self, authenticate: Authenticate) -> Authenticate:
        """The gateway's key check, traced when tracing is on."""
        if self.tracing is None:
            return authenticate
        return self.tracing.span_around("gateway.authenticate", authenticate)

    def usage(self, submit: Callable[[UsageEvent], None]) -> Callable[[UsageEvent], None]:
        """Usage metering's ``submit``, also feeding the metrics and the trace."""
        observers: list[Callable[[UsageEvent], None]] = []
        if self.metrics is not None:
            observers.append(self.metrics.observe_usage)
        if self.tracing is not None:
            observers.append(self.tracing.meter)
        if not observers:
            return submit

        def observed(event: UsageEvent) -> None:
            submit(event)
            for observe in observers:
                observe(event)

        return observed

    def scheduled_runs(self, fire: Fire) -> Fire:
        """The scheduler's ``fire`` (one recurrent-request run), traced when tracing is on:
        a run does not come through the door, so this span is its trace's root."""
        if self.tracing is None:
            return fire
        return self.tracing.span_around("gateway.scheduled_run", fire)

    def log_writes(
        self, write: Callable[[Sequence[T]], Awaitable[None]]
    ) -> Callable[[Sequence[T]], Awaitable[None]]:
        """The request-log writer's batch write, traced when tracing is on."""
        return write if self.tracing is None else self.tracing.log_writes(write)

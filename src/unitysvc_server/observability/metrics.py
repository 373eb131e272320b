"""Prometheus metrics of one platform process (``--metrics``), served at ``GET /metrics``.

Every platform has its own :class:`~prometheus_client.CollectorRegistry` (several
platforms may run in one process: the test suite does), filled from three places that
already know the facts, so the hot path pays a few counter increments and nothing else:

* the gateway's door (:meth:`PlatformMetrics.observe_gateway`), once per caller request
  after its body is sent: requests by route kind, status class and service, latency,
  the gateway's own share of it (time to the response headers minus the upstream's),
  rate-limit refusals, memoize hits and misses;
* usage metering (:meth:`PlatformMetrics.observe_usage`), once per upstream call when
  its body ends: upstream calls and errors, tokens and cost;
* the control-plane API (:class:`ApiMetrics`): ``/v1`` requests and latency.

Scheduler ticks and runs are read from the scheduler when scraped
(:class:`_SchedulerCollector`). Label values are bounded: a route kind
(:mod:`~unitysvc_server.observability.labels`), a status class and a catalog service
name; never a path, a customer or a key.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unitysvc import __version__
from unitysvc_server.gateway.metering import SERVICE_HEADER
from unitysvc_server.gateway.stages.memoize import CACHE_HEADER
from unitysvc_server.observability.labels import (
    API_ROUTE,
    ROUTE_OF_KIND,
    guess_route,
    status_class,
)

if TYPE_CHECKING:
    from prometheus_client.metrics import MetricWrapperBase

    from unitysvc_server.domain.recurrent_runs import SchedulerStats
    from unitysvc_server.domain.usage import UsageEvent
    from unitysvc_server.gateway.pipeline import GatewayRequest, GatewayResponse
    from unitysvc_server.runtime import Runtime

__all__ = ["CONTENT_TYPE", "ApiMetrics", "PlatformMetrics"]

#: The ``Content-Type`` of ``/metrics`` (Prometheus text format 0.0.4).
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Whole-call latency, arrival to the last body byte (LLM streams last seconds).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
#: The gateway's own share of a call: about half a millisecond when all is well.
OVERHEAD_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

M = TypeVar("M", bound="MetricWrapperBase")


class _Children(Generic[M]):
    """A labelled metric with its children kept by label values.

    ``metric.labels(...)`` validates and locks on every call; a dict lookup is what the
    hot path can afford. The cache is bounded like the label values themselves.
    """

    __slots__ = ("_metric", "_children")

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class _SchedulerCollector(Collector):
    """Scheduler ticks and runs, read from the running scheduler when scraped."""

    def __init__(self, scheduler: Callable[[], SchedulerStats | None]) -> None:
        self._scheduler = scheduler

    def collect(self) -> Iterator[CounterMetricFamily]:
        scheduler = self._scheduler()
        ticks = CounterMetricFamily(
            "unitysvc_scheduler_ticks", "Scheduler ticks (lease rounds) of this process."
        )
        runs = CounterMetricFamily(
            "unitysvc_scheduler_runs",
            "Recurrent-request runs fired by this process, by outcome.",
            labels=["outcome"],
        )
        fired = failed = 0
        if scheduler is not None:
            ticks.add_metric([], scheduler.ticks)
            fired, failed = scheduler.fired, scheduler.failed
        else:
            ticks.add_metric([], 0)
        runs.add_metric(["ok"], fired - failed)
        runs.add_metric(["error"], failed)
        yield ticks
        yield runs


class PlatformMetrics:
    """The metrics of one platform, in a registry of its own.

    Args:
        runtime: The platform's runtime (its catalog names services in labels; its
            gateway's scheduler is read when scraped).
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._service_names: dict[uuid.UUID, str] = {}
        self.registry = registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        Gauge("unitysvc_build_info", "The running version.", ["version"], registry=registry).labels(
            __version__
        ).set(1)
        self._requests = _Children(
            Counter(
                "unitysvc_requests",
                "Requests answered, by route kind (gateway address letter, path, or v1), "
                "status class and service (empty when none was chosen).",
                ["route", "status_class", "service"],
                registry=registry,
            )
        )
        self._duration = _Children(
            Histogram(
                "unitysvc_request_duration_seconds",
                "From a request's arrival to its last response byte.",
                ["route", "service"],
                buckets=DURATION_BUCKETS,
                registry=registry,
            )
        )
        self._overhead = _Children(
            Histogram(
                "unitysvc_gateway_overhead_seconds",
                "A gateway call's time to its response headers minus the upstream's.",
                ["route"],
                buckets=OVERHEAD_BUCKETS,
                registry=registry,
            )
        )
        self._upstream = _Children(
            Histogram(
                "unitysvc_upstream_duration_seconds",
                "From sending a gateway call upstream to the upstream's response headers.",
                ["service"],
                buckets=DURATION_BUCKETS,
                registry=registry,
            )
        )
        self._upstream_calls = _Children(
            Counter(
                "unitysvc_upstream_calls",
                "Metered upstream calls (failover attempts, tee copies and scheduled runs "
                "included), by service and outcome (ok or error).",
                ["service", "outcome"],
                registry=registry,
            )
        )
        self._upstream_errors = _Children(
            Counter(
                "unitysvc_upstream_errors",
                "Upstream calls that failed, by service and reason: no_response (timeout, "
                "connection failure), http_429, http_4xx, http_5xx, interrupted (body cut).",
                ["service", "reason"],
                registry=registry,
            )
        )
        self._tokens = _Children(
            Counter(
                "unitysvc_tokens",
                "Tokens the upstreams reported, by service and kind (input, cached_input, output).",
                ["service", "kind"],
                registry=registry,
            )
        )
        self._cost = _Children(
            Counter(
                "unitysvc_cost",
                "Charges of successful calls at catalog list prices, by service and currency.",
                ["service", "currency"],
                registry=registry,
            )
        )
        self._cache = _Children(
            Counter(
                "unitysvc_cache_lookups",
                "m/ (memoize) lookups of caller requests, by result (hit or miss) and service.",
                ["result", "service"],
                registry=registry,
            )
        )
        self._rate_limited = Counter(
            "unitysvc_rate_limited",
            "Gateway requests refused by the per-customer rate limit (429).",
            registry=registry,
        )
        registry.register(_SchedulerCollector(self._scheduler))

    # -- sources --------------------------------------------------------------

    def _scheduler(self) -> SchedulerStats | None:
        stats = self._runtime.hooks.scheduler_stats
        return None if stats is None else stats()

    def service_label(self, service_id: uuid.UUID | None) -> str:
        """The ``service`` label of a service: its catalog name ('' for none)."""
        if service_id is None:
            return ""
        name = self._service_names.get(service_id)
        if name is None:
            catalog = self._runtime.catalog
            service = catalog.service(service_id) if catalog is not None else None
            name = service.name if service is not None else str(service_id)
            self._service_names[service_id] = name
        return name

    # -- observers --------------------------------------------------------------

    def observe_gateway(
        self,
        raw_path: str,
        request: GatewayRequest | None,
        response: GatewayResponse | None,
        status: int,
        started: float,
        answered: float,
    ) -> None:
        """Record one caller request the gateway answered (its body sent).

        Args:
            raw_path: The path as sent (only used for a label when unparsed).
            request: The parsed request; ``None`` when refused before parsing.
            response: The answer; ``None`` when the caller hung up first.
            status: The status sent (499 for a caller that hung up).
            started: ``time.perf_counter()`` at arrival.
            answered: ``time.perf_counter()`` when the response headers were ready
                (0 when there were none).
        """
        now = time.perf_counter()
        upstream_ms: float | None = None
        cache_result = ""
        if request is not None:
            route = ROUTE_OF_KIND[request.path.kind]
            service = self.service_label(request.trace.service_id)
            upstream_ms = request.trace.upstream_ms
            if response is not None and request.path.wrappers.memoize:
                cache_result, service = self._cache_outcome(response, service)
        else:
            route, service = guess_route(raw_path), ""
        self._requests(route, status_class(status), service).inc()
        self._duration(route, service).observe(now - started)
        if answered:
            upstream = upstream_ms / 1000 if upstream_ms is not None else 0.0
            self._overhead(route).observe(max(answered - started - upstream, 0.0))
        if upstream_ms is not None:
            self._upstream(service).observe(upstream_ms / 1000)
        if cache_result:
            self._cache(cache_result, service).inc()
        elif response is not None and response.error_type == "rate_limited":
            self._rate_limited.inc()

    def _cache_outcome(self, response: GatewayResponse, service: str) -> tuple[str, str]:
        """The memoize result (``hit``, ``miss`` or '') and the service label, which
        for a hit (no upstream call, so no trace) is the one the cached entry names."""
        result = ""
        for key, value in response.headers:
            if key == CACHE_HEADER:
                result = value.decode("latin-1")
            elif key == SERVICE_HEADER and not service:
                with contextlib.suppress(ValueError):
                    service = self.service_label(uuid.UUID(value.decode("latin-1")))
        return result, service

    def observe_usage(self, event: UsageEvent) -> None:
        """Record one metered upstream call (when its body ended)."""
        service = self.service_label(event.service_id)
        usage = event.usage
        status = event.status_code
        if event.success:
            self._upstream_calls(service, "ok").inc()
            if event.charge:
                self._cost(service, event.currency).inc(float(event.charge))
        else:
            self._upstream_calls(service, "error").inc()
            if status is None:
                reason = "no_response"
            elif status == 429:
                reason = "http_429"
            elif status >= 500:
                reason = "http_5xx"
            elif status >= 400:
                reason = "http_4xx"
            else:
                reason = "interrupted"
            self._upstream_errors(service, reason).inc()
        for kind, count in (
            ("input", usage.input_tokens),
            ("cached_input", usage.cached_input_tokens),
            ("output", usage.output_tokens),
        ):
            if count:
                self._tokens(service, kind).inc(count)

    def observe_api(self, status: int, started: float) -> None:
        """Record one control-plane request."""
        self._requests(API_ROUTE, status_class(status), "").inc()
        self._duration(API_ROUTE, "").observe(time.perf_counter() - started)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class ApiMetrics:
    """Counts control-plane requests (``/v1``...) and times them: an ASGI wrapper."""

    def __init__(self, app: ASGIApp, metrics: PlatformMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe_api(status, started)

"""OpenTelemetry traces of gateway calls (``--otel-endpoint``), exported over OTLP/HTTP.

Imported only when tracing is configured (it needs the ``otel`` extra). Each platform has
its own :class:`~opentelemetry.sdk.trace.TracerProvider` (never the global one: several
platforms may share a process) with a batch processor and the SDK's OTLP/HTTP exporter,
so spans leave on the exporter's thread, off the request path.

A caller request is one ``gateway <route>`` server span, continuing the caller's W3C
``traceparent`` when it sends one, with children for the stages:
``gateway.authenticate``, ``gateway.resolve``, ``gateway.upstream`` (a client span to the
upstream's response headers; the upstream receives its ``traceparent``, replacing any
the caller sent) and ``gateway.meter`` (when the body ended: tokens, charge). A
scheduled run is a ``gateway.scheduled_run`` trace of its own, and request-log batches
are written in the background, each in a ``gateway.log_write`` span. Attributes
name route kinds, services and statuses, never a key, a customer or an upstream URL's
path and query (they may carry a credential).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unitysvc import __version__
from unitysvc_server.gateway.h1client import UpstreamPool, UpstreamResponse
from unitysvc_server.gateway.metering import SERVICE_HEADER
from unitysvc_server.gateway.pipeline import Headers
from unitysvc_server.observability.labels import guess_route

if TYPE_CHECKING:
    from unitysvc_server.catalog.model import Catalog
    from unitysvc_server.domain.usage import UsageEvent
    from unitysvc_server.gateway.dispatcher import Resolver, RoutedCall
    from unitysvc_server.gateway.group_models import MemberCall
    from unitysvc_server.gateway.pipeline import GatewayRequest
    from unitysvc_server.routing.selection import Candidate

__all__ = ["Tracing", "traces_url"]

#: How often the batch processor sends spans (milliseconds): a trace shows up within
#: about a second, in batches rather than one request per span.
EXPORT_DELAY_MS = 1000
_PROPAGATED = (b"traceparent", b"tracestate")

T = TypeVar("T")


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of ``endpoint``: a bare origin gets ``/v1/traces``."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


class Tracing:
    """The tracer of one platform and the wrappers that put spans around its parts.

    Args:
        endpoint: The collector's OTLP/HTTP URL (see :func:`traces_url`).
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = traces_url(endpoint)
        self.provider = TracerProvider(
            resource=Resource.create(
                {"service.name": "unitysvc-platform", "service.version": __version__}
            )
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=self.endpoint), schedule_delay_millis=EXPORT_DELAY_MS
            )
        )
        self.tracer = self.provider.get_tracer("unitysvc_server", __version__)
        self.propagator = TraceContextTextMapPropagator()

    def shutdown(self) -> None:
        """Send the spans still queued and stop the exporter."""
        self.provider.shutdown()

    # -- wrappers ---------------------------------------------------------------

    def gateway_app(self, app: ASGIApp) -> ASGIApp:
        """``app`` (the gateway door) with a server span around every request."""
        return _TracedGateway(app, self)

    def upstream_pool(self, **options: Any) -> UpstreamPool:
        """An upstream pool whose calls are client spans carrying ``traceparent``."""
        return _TracedUpstreamPool(self, **options)

    def resolver(self, resolver: Resolver) -> Resolver:
        """``resolver`` with a ``gateway.resolve`` span around each resolution."""
        return _TracedResolver(resolver, self)

    def span_around(
        self, name: str, function: Callable[[T], Awaitable[Any]]
    ) -> Callable[[T], Awaitable[Any]]:
        """``function`` (one argument, async) run inside a span called ``name``."""

        async def traced(argument: T) -> Any:
            with self.tracer.start_as_current_span(name):
                return await function(argument)

        return traced

    def log_writes(
        self, write: Callable[[Sequence[T]], Awaitable[None]]
    ) -> Callable[[Sequence[T]], Awaitable[None]]:
        """``write`` (a batch of request-log rows and usage events) inside a span."""

        async def traced(batch: Sequence[T]) -> None:
            with self.tracer.start_as_current_span(
                "gateway.log_write", attributes={"unitysvc.batch_size": len(batch)}
            ):
                await write(batch)

        return traced

    def meter(self, event: UsageEvent) -> None:
        """A ``gateway.meter`` span recording a metered call (tokens, charge)."""
        usage = event.usage
        attributes: dict[str, Any] = {
            "unitysvc.service_id": str(event.service_id),
            "unitysvc.success": event.success,
            "unitysvc.charge": float(event.charge),
            "unitysvc.currency": event.currency,
        }
        for name, value in (
            ("input_tokens", usage.input_tokens),
            ("cached_input_tokens", usage.cached_input_tokens),
            ("output_tokens", usage.output_tokens),
        ):
            if value is not None:
                attributes[f"unitysvc.{name}"] = value
        if event.status_code is not None:
            attributes["http.response.status_code"] = event.status_code
        self.tracer.start_span("gateway.meter", attributes=attributes).end()

    def inject(self, headers: Headers) -> Headers:
        """``headers`` with the current span's ``traceparent`` (any other one dropped)."""
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier)
        kept = [(key, value) for key, value in headers if key not in _PROPAGATED]
        kept.extend(
            (key.encode("latin-1"), value.encode("latin-1")) for key, value in carrier.items()
        )
        return kept


class _TracedGateway:
    """The gateway door inside a server span that continues the caller's trace."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in _PROPAGATED
        }
        parent = self.tracing.propagator.extract(carrier) if carrier else None
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        route = guess_route(raw_path.decode("latin-1"))
        span = self.tracing.tracer.start_span(
            f"gateway {route}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "unitysvc.route": route},
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        status = 0

        async def send_traced(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                span.set_attribute("http.response.status_code", status)
                for key, value in message.get("headers", ()):
                    if key == SERVICE_HEADER:
                        span.set_attribute("unitysvc.service_id", value.decode("latin-1"))
            await send(message)

        try:
            await self.app(scope, receive, send_traced)
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
            span.end()
            otel_context.detach(token)


class _TracedUpstreamPool(UpstreamPool):
    """The upstream pool, each call a client span whose context the upstream receives."""

    def __init__(self, tracing: Tracing, **options: Any) -> None:
        super().__init__(**options)
        self._tracing = tracing

    async def request(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        private_ok: bool = False,
    ) -> UpstreamResponse:
        parts = urlsplit(url)
        attributes: dict[str, Any] = {"http.request.method": method}
        if parts.hostname:
            attributes["server.address"] = parts.hostname
        if parts.port:
            attributes["server.port"] = parts.port
        with self._tracing.tracer.start_as_current_span(
            "gateway.upstream", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            response = await super().request(
                method,
                url,
                self._tracing.inject(headers),
                body,
                timeout=timeout,
                connect_timeout=connect_timeout,
                private_ok=private_ok,
            )
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {response.status}"))
            return response


class _TracedResolver:
    """A resolver whose resolutions are ``gateway.resolve`` spans."""

    def __init__(self, inner: Resolver, tracing: Tracing) -> None:
        self._inner = inner
        self._tracer = tracing.tracer

    async def resolve(
        self, request: GatewayRequest, routing_key: dict[str, Any] | None
    ) -> RoutedCall:
        with self._tracer.start_as_current_span(
            "gateway.resolve", attributes={"unitysvc.address_kind": request.path.kind}
        ) as span:
            routed = await self._inner.resolve(request, routing_key)
            service_id: uuid.UUID = routed.service_id
            span.set_attribute("unitysvc.service_id", str(service_id))
            return routed

    def catalog(self) -> Catalog:
        return self._inner.catalog()

    async def group_members(
        self, request: GatewayRequest
    ) -> Sequence[tuple[Candidate, MemberCall]]:
        return await self._inner.group_members(request)

"""Build the platform's ASGI application.

One process serves two surfaces on one port:

* the control-plane API (FastAPI) under ``/v1``, plus ``/healthz`` and the
  interactive docs (``/docs``, ``/redoc``, ``/openapi.json``);
* the gateway (``runtime.gateway_app``, set by the gateway component) at every
  other path.

A small pure-ASGI dispatcher in front picks the surface by path, so the
gateway's hot path never goes through FastAPI's routing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from unitysvc import __version__
from unitysvc_server.api.errors import METHOD_TABLE_STATE, install_error_handlers, method_table
from unitysvc_server.api.middleware import (
    BodyLimit,
    Idempotency,
    RejectNul,
    RequestContext,
    SlashTolerance,
    send_json,
)
from unitysvc_server.api.routes import ROUTERS
from unitysvc_server.api.wire_models import build_wire_models
from unitysvc_server.components.catalog import CatalogComponent
from unitysvc_server.components.enrollments import EnrollmentWorker
from unitysvc_server.config import Settings
from unitysvc_server.gateway.component import GatewayComponent
from unitysvc_server.observability import Observability
from unitysvc_server.observability.endpoint import METRICS_PATH, MetricsEndpoint
from unitysvc_server.redaction import install_log_redaction
from unitysvc_server.runtime import Component, Runtime

API_PREFIX = "/v1"
_API_EXACT = frozenset({"/healthz", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"})


def default_components() -> list[Component]:
    """The platform's components in start order (stopped in reverse).

    Order matters: the catalog is loaded before anything that routes, and the
    gateway starts last so it never serves before its dependencies are up.
    """
    components: list[Component] = []
    components.append(CatalogComponent())
    components.append(EnrollmentWorker())
    # The gateway component goes last: it serves only once everything it routes to is up.
    components.append(GatewayComponent())
    return components


def build_api(runtime: Runtime) -> FastAPI:
    """The FastAPI control-plane app (every router under ``/v1``)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    build_wire_models()
    api = FastAPI(
        title="UnitySVC Customer API (self-hosted)",
        version=__version__,
        lifespan=lifespan,
        redirect_slashes=False,
    )
    api.state.runtime = runtime
    install_error_handlers(api)
    for router in ROUTERS:
        api.include_router(router, prefix=API_PREFIX)
    setattr(api.state, METHOD_TABLE_STATE, method_table(ROUTERS, API_PREFIX))
    # The other slash form is tried only when a path matched no route.
    api.router.default = SlashTolerance(api.router)

    @api.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return api


class Dispatcher:
    """Send API paths to FastAPI and everything else to the gateway."""

    def __init__(
        self, api: FastAPI, api_stack: ASGIApp, runtime: Runtime, metrics: ASGIApp
    ) -> None:
        self.api = api
        self.api_stack = api_stack
        self.runtime = runtime
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.api(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path == API_PREFIX or path.startswith(API_PREFIX + "/") or path in _API_EXACT:
            await self.api_stack(scope, receive, send)
            return
        if path == METRICS_PATH:
            await self.metrics(scope, receive, send)
            return
        gateway = self.runtime.gateway_app
        if gateway is not None:
            await gateway(scope, receive, send)
            return
        if scope["type"] == "http":
            await send_json(send, 404, {"detail": f"no route for {path}"})


class PlatformApp:
    """The complete platform ASGI app; ``.api`` is the FastAPI app, ``.runtime`` the state."""

    def __init__(self, settings: Settings, components: list[Component] | None = None) -> None:
        # Every log record of the process is redacted (keys, used secret values).
        install_log_redaction()
        self.settings = settings
        # Metrics and traces (off unless asked for): started first, so stopped last.
        observability = Observability(settings)
        chosen = default_components() if components is None else components
        for component in chosen:
            if isinstance(component, GatewayComponent):
                # The gateway builds the parts metrics and traces observe through it.
                component.instruments = observability
        self.runtime = Runtime(
            settings, [observability, *chosen] if observability.active else chosen
        )
        observability.attach(self.runtime)
        self.api = build_api(self.runtime)
        api_stack: ASGIApp = Idempotency(self.api, self.runtime)
        api_stack = RejectNul(api_stack)
        api_stack = BodyLimit(api_stack, settings.max_body_bytes)
        api_stack = observability.api(api_stack)
        metrics = MetricsEndpoint(observability)
        self._app = RequestContext(Dispatcher(self.api, api_stack, self.runtime, metrics))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def openapi(self) -> dict[str, object]:
        """The control-plane OpenAPI document."""
        return self.api.openapi()


def create_app(settings: Settings) -> PlatformApp:
    """Create the platform ASGI app for ``settings``.

    The app is ready to be served (e.g. by uvicorn); its lifespan opens the
    database, migrates it and starts the components. Handlers reach the
    :class:`Runtime` as ``request.app.state.runtime``.
    """
    return PlatformApp(settings)

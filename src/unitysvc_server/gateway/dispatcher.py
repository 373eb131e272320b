"""The gateway dispatcher: the pipeline of wrapper stages around the routing core.

Stages, outermost first, at fixed phases whatever their order in the URL:

1. guard — an unexpected exception becomes a 500 JSON error (never a trace);
1b. schedule (``d/``, ``r/``) — registers the call as a recurrent request and answers 202;
   each run comes back through the whole pipeline;
2. logging (``l/``, the customer's preference) — sees the final outcome, cache hits and
   failovers included;
3. tee (``t/``) — every call the customer makes is mirrored, cached or not;
4. memoize (``m/``) — a hit skips failover and the upstream;
5. failover (``f/``) — part of producing the answer that gets cached;
6. core — resolves the address (alias, chain, broadcast, or a service through
   ``routing.selection``), renders the upstream call and proxies it; known failures
   become JSON errors here, innermost, so every outer stage sees a response.

Secondary paths (failover, tee, alias targets, chain steps, broadcast targets) and
scheduler runs are *child* requests run through the same pipeline, so their own wrappers
apply; nesting is bounded to stop alias or chain loops.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from unitysvc_server.catalog.model import Catalog
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.recurrent_runs import MAX_RESULT_BYTES, FireResult, Job
from unitysvc_server.gateway.budgets import BudgetGate
from unitysvc_server.gateway.cache import ResponseCache
from unitysvc_server.gateway.errors import GatewayError, error_response
from unitysvc_server.gateway.group_models import MemberCall, is_models_listing, list_group_models
from unitysvc_server.gateway.h1client import UpstreamPool
from unitysvc_server.gateway.metering import Metering, ask_for_usage
from unitysvc_server.gateway.pipeline import (
    Caller,
    GatewayRequest,
    GatewayResponse,
    Handler,
    Pipeline,
    Spawn,
    StageSpec,
)
from unitysvc_server.gateway.routing_objects import CallerContextLookup, RoutingObjects, read_all
from unitysvc_server.gateway.scheduler import render_body
from unitysvc_server.gateway.stages.failover import failover_stage
from unitysvc_server.gateway.stages.logging import PreferenceLookup, logging_stage
from unitysvc_server.gateway.stages.memoize import memoize_stage
from unitysvc_server.gateway.stages.schedule import schedule_stage
from unitysvc_server.gateway.stages.tee import tee_stage
from unitysvc_server.gateway.upstream import UpstreamCall, proxy
from unitysvc_server.redaction import secret_scope
from unitysvc_server.routing.paths import MAX_NESTING, PathError, parse_gateway_path
from unitysvc_server.routing.selection import (
    ROUTING_FIELD,
    Candidate,
    apply_override,
    extract_routing_key,
)

logger = logging.getLogger("unitysvc_server.gateway")

#: Address kinds that name one service: their resolution never uses a routing key.
_KEYLESS_KINDS = frozenset({"service", "enrollment", "chain", "broadcast"})


class RoutedCall(Protocol):
    """What the resolver hands back for a service address: the upstream call to make."""

    @property
    def call(self) -> UpstreamCall: ...

    @property
    def service_id(self) -> uuid.UUID:
        """The service the call goes to."""
        ...

    def observe(self, latency_ms: float | None, ok: bool) -> None:
        """Report the outcome (feeds ``lowest_latency`` routing)."""
        ...


class Resolver(Protocol):
    """Turns a service-bound address (``p/``, ``g/``, ``e/``, listing paths) into a call.

    Fills ``request.trace`` (service, enrollment, channel); raises :class:`GatewayError`
    for no route (404), ambiguity (409), a missing secret (424) and the like.
    """

    async def resolve(
        self, request: GatewayRequest, routing_key: dict[str, Any] | None
    ) -> RoutedCall: ...

    def catalog(self) -> Catalog:
        """The loaded catalog."""
        ...

    async def group_members(
        self, request: GatewayRequest
    ) -> Sequence[tuple[Candidate, MemberCall]]:
        """Every usable member of a ``g/<group>`` address with its call (fan-out reads)."""
        ...


def routing_key_of(request: GatewayRequest) -> dict[str, Any] | None:
    """The request's routing key: ``{"model": ...}`` from the body, if present.

    A JSON object body is the common case (parsed once, shared with other stages); form
    bodies (audio uploads send ``model`` as a multipart field) go through the same
    extraction ``/v1/resolve`` documents (``routing.selection.extract_routing_key``).
    """
    body = request.json()
    if isinstance(body, dict):
        model = body.get(ROUTING_FIELD)
        if isinstance(model, str) and model:
            return {ROUTING_FIELD: model}
        return None
    if not request.body:
        return None
    content_type = request.header(b"content-type")
    if content_type is None or not content_type.lower().startswith(
        (b"multipart/", b"application/x-www-form-urlencoded")
    ):
        return None
    return extract_routing_key(request.body, content_type.decode("latin-1"))


def _group_name(request: GatewayRequest, catalog: Catalog) -> str | None:
    """The group a ``g/`` address names, by name (a platform group may be given by id)."""
    if request.path.kind != "group":
        return None
    group = catalog.group(request.path.name)
    return group.name if group is not None else request.path.name


def guard_stage(inner: Handler) -> Handler:
    """Outermost: no exception escapes as a stack trace; opens the dispatch's secret scope."""

    async def handle(request: GatewayRequest) -> GatewayResponse:
        # The used-secrets set of this dispatch (shared with its children), for redaction.
        secret_scope()
        try:
            return await inner(request)
        except GatewayError as exc:
            return exc.response()
        except Exception:
            logger.exception("gateway dispatch of %s failed", request.display_path.split("?")[0])
            return error_response(
                500,
                "internal gateway error; the failure has been logged",
                error_type="internal_error",
            )

    return handle


class Dispatcher:
    """Runs gateway requests through the folded pipeline.

    Args:
        resolver: Service-address resolution (catalog, selection, rendering).
        sessionmaker: Database sessions (aliases, chains, broadcasts).
        client: The shared upstream HTTP client.
        cache: Memoize store.
        submit_log: Queues a finished request-log record.
        preference: The customer's logging mode.
        spawn: Runs background coroutines the server drains at shutdown.
        caller_context: Returns a customer's (cached) routing facts (aliases).
        metering: Meters every upstream call (usage events, the service header).
        wake: Tells the scheduler that a ``d/``/``r/`` call registered a schedule.
        budgets: Refuses upstream calls past a budget's cap and counts their charges.
    """

    def __init__(
        self,
        *,
        resolver: Resolver,
        sessionmaker: Any,
        client: UpstreamPool,
        cache: ResponseCache,
        submit_log: Any,
        preference: PreferenceLookup,
        spawn: Spawn,
        caller_context: CallerContextLookup,
        metering: Metering,
        wake: Callable[[], None],
        budgets: BudgetGate | None = None,
    ) -> None:
        self._resolver = resolver
        self._budgets = budgets
        self._metering = metering
        self._client = client
        self.routing_objects = RoutingObjects(sessionmaker, self.child, spawn, caller_context)
        self.pipeline = Pipeline(
            self._core,
            [
                StageSpec(guard_stage),
                StageSpec(schedule_stage, sessionmaker=sessionmaker, wake=wake),
                StageSpec(logging_stage, submit=submit_log, preference=preference),
                StageSpec(tee_stage, dispatch_secondary=self._secondary, spawn=spawn),
                StageSpec(memoize_stage, cache=cache, spawn=spawn),
                StageSpec(failover_stage, dispatch_secondary=self.child),
            ],
        )
        self.handler = self.pipeline.freeze()

    async def __call__(self, request: GatewayRequest) -> GatewayResponse:
        return await self.handler(request)

    # -- children -------------------------------------------------------------

    def _child_request(
        self,
        parent: GatewayRequest,
        path: str,
        body: bytes | None,
        routing_key_override: dict[str, Any] | None,
    ) -> GatewayRequest | GatewayResponse:
        if parent.depth >= MAX_NESTING:
            return error_response(
                508,
                f"gateway paths nest more than {MAX_NESTING} levels deep (an alias, chain or "
                f"failover loop?) at {path!r}",
                error_type="loop_detected",
            )
        raw, _, query = path.partition("?")
        try:
            parsed = parse_gateway_path(raw, query.encode("latin-1"))
        except PathError as exc:
            return error_response(exc.status, f"{path!r}: {exc.detail}", error_type="bad_target")
        new_body = parent.body if body is None else body
        if routing_key_override:
            new_body = apply_override(new_body, routing_key_override)
        return GatewayRequest(
            parent.method,
            parsed,
            path,
            parent.headers,
            new_body,
            parent.caller,
            depth=parent.depth + 1,
            recurrent_request_id=parent.recurrent_request_id,
            routing_key_override=routing_key_override,
            client=parent.client,
        )

    async def child(
        self,
        parent: GatewayRequest,
        path: str,
        *,
        body: bytes | None = None,
        routing_key_override: dict[str, Any] | None = None,
    ) -> GatewayResponse:
        """Run ``path`` as a child of ``parent`` (same customer, same method and headers)."""
        request = self._child_request(parent, path, body, routing_key_override)
        if isinstance(request, GatewayResponse):
            return request
        response = await self.handler(request)
        # An alias or chain answers for its target: report who actually served it.
        parent.trace.adopt(request.trace)
        return response

    async def _secondary(self, parent: GatewayRequest, path: str) -> GatewayResponse:
        # A tee copy: unlike child(), its trace must not replace the primary's.
        request = self._child_request(parent, path, None, None)
        if isinstance(request, GatewayResponse):
            return request
        return await self.handler(request)

    # -- core -----------------------------------------------------------------

    async def _core(self, request: GatewayRequest) -> GatewayResponse:
        try:
            return await self._route(request)
        except GatewayError as exc:
            request.trace.error_source = exc.error_source
            request.trace.error_type = exc.error_type
            return exc.response()

    async def _route(self, request: GatewayRequest) -> GatewayResponse:
        kind = request.path.kind
        # Only group, listing-path and alias addresses route by key: a p/ or e/ call
        # skips parsing the body.
        routing_key = (
            None
            if kind in _KEYLESS_KINDS
            else request.routing_key_override or routing_key_of(request)
        )
        if kind == "alias":
            return await self.routing_objects.alias(request, routing_key)
        if kind == "chain":
            return await self.routing_objects.chain(request)
        if kind == "broadcast":
            return await self.routing_objects.broadcast(request)
        if is_models_listing(request.method, request.path):
            members = await self._resolver.group_members(request)
            return await list_group_models(request, members, self._client)
        routed = await self._resolver.resolve(request, routing_key)
        catalog = self._resolver.catalog()
        service = catalog.service(routed.service_id)
        admission = None
        if self._budgets is not None and service is not None:
            # Checked before anything is sent upstream (402 past a cap).
            admission = await self._budgets.admit(request, service, _group_name(request, catalog))
        call = routed.call
        body, usage_requested = ask_for_usage(request, call.url)
        started = time.perf_counter()
        response = await proxy(
            self._client, request.method, call, request.headers, body, request.trace
        )
        routed.observe(request.trace.upstream_ms, response.status < 500)
        if service is None:  # pragma: no cover - the resolver only routes to catalog services
            return response
        response = self._metering.wrap(
            request,
            response,
            service,
            bytes_in=len(body),
            usage_requested=usage_requested,
            started=started,
            on_event=None if admission is None else admission.observe,
        )
        return response if admission is None else admission.track(response)

    # -- scheduler ------------------------------------------------------------

    async def fire(self, job: Job) -> FireResult:
        """Run a recurrent request through the pipeline as its owner."""
        raw, _, query = job.gateway_path.partition("?")
        try:
            parsed = parse_gateway_path(raw, query.encode("latin-1"))
        except PathError as exc:
            return FireResult(
                exc.status, [], json.dumps({"detail": exc.detail}).encode(), exc.detail
            )
        body = render_body(
            job.body_template,
            {"now": utcnow().isoformat(), "run_number": job.run_number, "request_id": str(job.id)},
        )
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in job.headers.items()
        ]
        if body is not None and not any(k == b"content-type" for k, _ in headers):
            headers.append((b"content-type", b"application/json"))
        request = GatewayRequest(
            job.method,
            parsed,
            job.gateway_path,
            headers,
            body or b"",
            Caller(job.customer_id, job.owner_id),
            recurrent_request_id=job.id,
        )
        response = await self.handler(request)
        data, _ = await read_all(response, MAX_RESULT_BYTES)
        error = None
        if not 200 <= response.status < 300:
            error = response.error_type or f"HTTP {response.status}"
        return FireResult(response.status, response.headers, data, error)

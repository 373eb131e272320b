"""Service addresses to upstream calls: routing selection, channel choice, rendering.

For ``p/<service-id>``, ``g/<group>``, ``e/<code>`` and listing paths this module gets
the ordered candidates from ``domain.addresses`` — the lookup ``POST /v1/resolve`` runs
too, so a dry run predicts the real choice — picks the first channel the caller can use,
renders it (``catalog.render``: enrollment parameters, ``${ customer_secrets.NAME }``),
applies the upstream map and the credential disposition, and hands the dispatcher an
:class:`UpstreamCall`.

Errors are raised as :class:`GatewayError` with the status the gateway answers:

* 404 no route (the message names the path and what was tried), 409 ambiguous (lists
  the candidates);
* 424 *Failed Dependency* when a customer secret the channel needs is not set — the
  request is fine, a dependency the customer controls is missing; the message names the
  secret and the ``PUT /v1/secrets/<NAME>`` that fixes it (docs/decisions.md);
* 403 when the only usable channel needs an enrollment the caller does not hold;
* 502 ``error_source: "gateway"`` for a channel this server cannot render or sign.

Seller/platform secrets (``${ secrets.NAME }``) come from the server's environment as
``UNITYSVC_SELLER_SECRET_<NAME>``: they belong to the operator who loads the catalog.
"""

from __future__ import annotations

import dataclasses
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from unitysvc_server.catalog.model import Catalog, CatalogService, UpstreamChannel
from unitysvc_server.catalog.render import (
    CUSTOMER_SECRETS,
    MissingSecret,
    RenderContext,
    RenderError,
    render_channel,
)
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.addresses import (
    CallerFacts,
    UnknownAddress,
    needs_enrollment_lookup,
    resolve_address,
)
from unitysvc_server.domain.caller_context import CallerContext
from unitysvc_server.domain.enrollments import ActiveEnrollment, render_context
from unitysvc_server.domain.secrets import is_use_stale, mark_secret_used
from unitysvc_server.domain.sessions import Session
from unitysvc_server.gateway.credentials import Rendered, RenderedChannels
from unitysvc_server.gateway.errors import GatewayError
from unitysvc_server.gateway.pipeline import GatewayRequest, Trace
from unitysvc_server.gateway.upstream import UpstreamCall, apply_upstream_map, join_url
from unitysvc_server.redaction import note_secret_value
from unitysvc_server.routing.selection import (
    Ambiguous,
    Candidate,
    LatencyTracker,
    NoChannel,
    NoRoute,
    UnknownStrategy,
    Unusable,
    apply_override,
    channel_check,
    select_channel,
)
from unitysvc_server.routing.targets import group_candidates, group_remainder, group_strategy
from unitysvc_server.runtime import Runtime

#: Where operator-held seller secrets come from: ``UNITYSVC_SELLER_SECRET_<NAME>``.
SELLER_SECRET_ENV_PREFIX = "UNITYSVC_SELLER_SECRET_"
#: Hosts a ``__forward__`` channel may receive the caller's svcpass key (core's list).
TRUSTED_FORWARD_SUFFIXES = (".svcpass.com", ".unitysvc.com")

_STRIP = ("", "__strip__")
_NO_SECRETS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Routed:
    """A resolved upstream call (see :class:`~unitysvc_server.gateway.dispatcher.RoutedCall`)."""

    call: UpstreamCall
    service_id: uuid.UUID
    latency: LatencyTracker | None

    def observe(self, latency_ms: float | None, ok: bool) -> None:
        """Feed ``lowest_latency`` routing with a successful call's time to headers."""
        if ok and latency_ms is not None and self.latency is not None:
            self.latency.observe(self.service_id, latency_ms)


class _Session:
    """A database transaction opened on first use: managed channels never touch the DB."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._session: Session | None = None

    async def get(self) -> Session:
        if self._session is None:
            self._session = self._runtime.sessionmaker()
        return self._session

    async def close(self, failed: bool) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            # Commits what resolution wrote (a secret's coarse last-used time).
            if failed:
                await session.rollback()
            else:
                await session.commit()
        finally:
            await session.close()


def _routing_error(exc: NoRoute | Ambiguous | UnknownAddress) -> GatewayError:
    if isinstance(exc, Ambiguous):
        return GatewayError(
            409,
            exc.detail,
            error_type="ambiguous_route",
            extra={
                "candidates": [
                    {"service_id": str(c.service.id), "service_name": c.service.name}
                    for c in exc.candidates
                ]
            },
        )
    extra = {"tried": list(exc.tried)} if isinstance(exc, NoRoute) else None
    return GatewayError(404, exc.detail, error_type="no_route", extra=extra)


def _credential(api_key: Any, url: str, request: GatewayRequest) -> list[tuple[bytes, bytes]]:
    """Headers carrying the upstream credential, per the channel's ``api_key`` disposition."""
    if api_key is None or api_key in _STRIP:
        return []
    if not isinstance(api_key, str):
        raise GatewayError(
            502,
            "the service's channel has a malformed api_key; contact the seller",
            error_type="bad_channel",
        )
    if api_key == "__forward__":
        host = (urlsplit(url).hostname or "").lower()
        if not any(host == s[1:] or host.endswith(s) for s in TRUSTED_FORWARD_SUFFIXES):
            raise GatewayError(
                502,
                "the service's channel forwards platform keys to an untrusted host; refused",
                error_type="untrusted_forward",
            )
        own = request.header(b"authorization")
        return [(b"authorization", own)] if own else []
    if api_key == "__sigv4__":
        raise GatewayError(
            502,
            "the service's channel needs AWS SigV4 request signing, which this gateway "
            "does not implement",
            error_type="unsupported_signing",
        )
    return [(b"authorization", f"Bearer {api_key}".encode("latin-1"))]


class CatalogRouter:
    """Resolves ``p/``, ``g/``, ``e/`` and listing-path addresses against the catalog.

    Args:
        runtime: The platform runtime (catalog, sessions, crypto, settings).
        rng: Random source for ``weighted_random`` (a seeded one in tests).
        caller_context: Returns a customer's (cached) :class:`CallerContext`.
    """

    def __init__(
        self,
        runtime: Runtime,
        caller_context: Callable[[uuid.UUID], Awaitable[CallerContext]],
        rng: random.Random | None = None,
    ) -> None:
        self._runtime = runtime
        self._rng = rng or random.Random()
        self._caller_context = caller_context
        self._upstreams = runtime.settings.upstreams
        self._static_channels: dict[int, tuple[UpstreamChannel, dict[str, Any]]] = {}
        #: Channels rendered per caller, clear credentials included (bus-invalidated).
        self.rendered = RenderedChannels()

    @property
    def _latency(self) -> LatencyTracker | None:
        return self._runtime.latency

    def catalog(self) -> Catalog:
        """The loaded catalog (503 while it is not loaded)."""
        catalog = self._runtime.catalog
        if catalog is None:
            raise GatewayError(503, "the catalog is not loaded yet", error_type="not_ready")
        return catalog

    async def resolve(self, request: GatewayRequest, routing_key: dict[str, Any] | None) -> Routed:
        """Resolve ``request`` to an upstream call (see the module docstring)."""
        session = _Session(self._runtime)
        failed = True
        try:
            routed = await self._resolve(request, routing_key, session)
            failed = False
            return routed
        finally:
            await session.close(failed)

    async def _resolve(
        self, request: GatewayRequest, routing_key: dict[str, Any] | None, session: _Session
    ) -> Routed:
        customer_id = request.caller.customer_id
        caller = CallerFacts(customer_id, lambda: self._caller_context(customer_id))
        try:
            target = await resolve_address(
                self.catalog(),
                request.path,
                routing_key,
                caller,
                rng=self._rng,
                latency=self._latency,
            )
        except (NoRoute, Ambiguous, UnknownAddress) as exc:
            raise _routing_error(exc) from None
        except UnknownStrategy as exc:
            raise GatewayError(502, str(exc), error_type="bad_routing_policy") from None
        strategy = target.selection.strategy
        timeout = strategy.timeout_ms / 1000 if strategy and strategy.timeout_ms else None
        blocked: NoChannel | None = None
        for candidate in target.selection.candidates:
            try:
                channel, used = await self._channel(candidate, target.enrollment, caller)
            except NoChannel as exc:
                # A group may still have a member this caller can use.
                blocked = blocked or exc
                continue
            return await self._render(
                request, candidate, channel, target.sub_path, used, timeout, session, caller
            )
        assert blocked is not None
        missing = blocked.missing_secrets
        if missing:
            raise GatewayError(
                424,
                blocked.detail,
                error_type="missing_secret",
                extra={"missing_secrets": list(missing)},
            )
        raise GatewayError(403, blocked.detail, error_type="channel_unavailable")

    async def _channel(
        self, candidate: Candidate, enrollment: ActiveEnrollment | None, caller: CallerFacts
    ) -> tuple[UpstreamChannel, ActiveEnrollment | None]:
        service = candidate.service
        if enrollment is None and needs_enrollment_lookup(service):
            enrollment = await caller.enrollment(service)
            if enrollment is None and service.enrollment_required:
                raise NoChannel(service, [_needs_enrollment(service)])
        needs_secrets = any(c.required_secrets for c in service.channels)
        names = await caller.secret_names() if needs_secrets else _NO_SECRETS
        channel = select_channel(
            service, channel_check(names, enrollment_active=enrollment is not None)
        )
        return channel, enrollment

    async def _render(
        self,
        request: GatewayRequest,
        candidate: Candidate,
        channel: UpstreamChannel,
        sub_path: str,
        enrollment: ActiveEnrollment | None,
        timeout: float | None,
        session: _Session,
        caller: CallerFacts,
    ) -> Routed:
        service = candidate.service
        try:
            if enrollment is None and channel.kind == "managed":
                rendered = await self._render_static(service, channel)
            else:
                rendered = await self._render_for_caller(
                    service, channel, enrollment, session, caller
                )
        except MissingSecret as exc:
            if exc.namespace == CUSTOMER_SECRETS:
                raise GatewayError(
                    424,
                    str(exc),
                    error_type="missing_secret",
                    extra={"missing_secrets": [exc.name]},
                ) from None
            raise GatewayError(502, str(exc), error_type="bad_channel") from None
        except RenderError as exc:
            raise GatewayError(
                502,
                f"the service's upstream configuration cannot be rendered: {exc}",
                error_type="bad_channel",
            ) from None
        base_url = str(rendered.get("base_url") or "")
        if not base_url:
            raise GatewayError(
                502, "the service's channel has no base_url", error_type="bad_channel"
            )
        mapped = apply_upstream_map(base_url, self._upstreams)
        url = join_url(mapped, sub_path, request.path.query)
        # Destinations the operator named are exempt from the SSRF address policy; a
        # URL the customer chose (BYOE) never is, whatever the map does with it.
        private_ok = channel.kind != "byoe" and (
            mapped != base_url or self._is_demo_upstream(mapped)
        )
        if candidate.upstream_routing_key:
            request.body = apply_override(request.body, dict(candidate.upstream_routing_key))
        trace = request.trace
        trace.service_id = service.id
        trace.channel = channel.name
        trace.enrollment_id = enrollment.id if enrollment is not None else None
        return Routed(
            call=UpstreamCall(
                url, _credential(rendered.get("api_key"), url, request), timeout, private_ok
            ),
            service_id=service.id,
            latency=self._latency,
        )

    async def group_members(self, request: GatewayRequest) -> list[tuple[Candidate, Routed]]:
        """Every member of the ``g/<group>`` address the caller can use, each with its call.

        For reads that fan out to the whole group (``g/<group>/models``) instead of routing
        to one member: no strategy picks, no routing key narrows; members whose channel
        the caller cannot use are left out. Each call is rendered for ``request``'s
        sub-path on a copy of it, so the caller's request is not changed.

        Raises:
            GatewayError: No such group of the caller (404), or it does not route (404).
        """
        session = _Session(self._runtime)
        failed = True
        try:
            catalog = self.catalog()
            customer_id = request.caller.customer_id
            caller = CallerFacts(customer_id, lambda: self._caller_context(customer_id))
            name = request.path.name
            group = catalog.group(name)
            if group is None or not group.is_visible:
                group = await caller.collection(name)
            if group is None or not group.is_routable:
                raise GatewayError(
                    404,
                    f"no routable group named {name!r}; list groups with GET /v1/groups",
                    error_type="no_route",
                )
            try:
                strategy = group_strategy(group)
            except UnknownStrategy as exc:
                raise GatewayError(502, str(exc), error_type="bad_routing_policy") from None
            timeout = strategy.timeout_ms / 1000 if strategy.timeout_ms else None
            sub_path = group_remainder(group, request.path.rest)
            members: list[tuple[Candidate, Routed]] = []
            for candidate in group_candidates(catalog, group):
                try:
                    channel, used = await self._channel(candidate, None, caller)
                except NoChannel:
                    continue
                copy = dataclasses.replace(request, trace=Trace())
                try:
                    routed = await self._render(
                        copy, candidate, channel, sub_path, used, timeout, session, caller
                    )
                except GatewayError:
                    continue  # e.g. a secret that is gone: this member cannot answer
                members.append((candidate, routed))
            failed = False
            return members
        finally:
            await session.close(failed)

    def _is_demo_upstream(self, url: str) -> bool:
        base = self._runtime.demo_upstreams
        return base is not None and (url == base or url.startswith(base.rstrip("/") + "/"))

    async def _render_static(
        self, service: CatalogService, channel: UpstreamChannel
    ) -> dict[str, Any]:
        """A managed channel without enrollment: the same for every caller, rendered once."""
        cached = self._static_channels.get(id(channel))
        if cached is not None and cached[0] is channel:
            return cached[1]

        async def lookup(namespace: str, name: str) -> str | None:
            value = (
                os.environ.get(SELLER_SECRET_ENV_PREFIX + name) if namespace == "secrets" else None
            )
            if value is not None:
                note_secret_value(value)
            return value

        context = RenderContext(service_name=service.name, routing_vars=service.routing_vars)
        rendered = await render_channel(channel, context, lookup)
        self._static_channels[id(channel)] = (channel, rendered)
        return rendered

    async def _render_for_caller(
        self,
        service: CatalogService,
        channel: UpstreamChannel,
        enrollment: ActiveEnrollment | None,
        session: _Session,
        caller: CallerFacts,
    ) -> dict[str, Any]:
        """The channel rendered with the caller's secrets / enrollment, decrypted once per
        process and context (:mod:`~unitysvc_server.gateway.credentials`)."""
        context = await caller.context()
        key = (caller.customer_id, service.id, channel.name, enrollment.id if enrollment else None)
        entry = self.rendered.get(key, channel, context)
        if entry is None:
            entry = await self._render_fresh(service, channel, enrollment, context)
            self.rendered.put(key, entry)
        now = utcnow()
        for namespace, name, value in entry.secrets:
            # Redacted from this dispatch's request log and log lines.
            note_secret_value(value)
            if namespace == CUSTOMER_SECRETS:
                await self._record_use(context, session, name, now)
        return entry.config

    async def _render_fresh(
        self,
        service: CatalogService,
        channel: UpstreamChannel,
        enrollment: ActiveEnrollment | None,
        context: CallerContext,
    ) -> Rendered:
        used: list[tuple[str, str, str]] = []

        async def lookup(namespace: str, name: str) -> str | None:
            value: str | None = None
            if namespace == CUSTOMER_SECRETS:
                ref = context.secret(name)
                value = None if ref is None else self._runtime.crypto.decrypt(ref.value_encrypted)
            elif namespace == "secrets":
                value = os.environ.get(SELLER_SECRET_ENV_PREFIX + name)
            if value is not None:
                note_secret_value(value)
                used.append((namespace, name, value))
            return value

        render = (
            render_context(enrollment, service, self._runtime.crypto)
            if enrollment is not None
            else RenderContext(service_name=service.name, routing_vars=service.routing_vars)
        )
        config = await render_channel(channel, render, lookup)
        return Rendered(channel, context, config, tuple(used))

    async def _record_use(
        self, context: CallerContext, session: _Session, name: str, now: datetime
    ) -> None:
        """Record (coarsely) that the caller's secret ``name`` was used."""
        ref = context.secret(name)
        if ref is not None and is_use_stale(ref.last_used_at, now):
            # Committed with the request; the commit drops the cached context.
            await mark_secret_used(await session.get(), ref.id, now)


def _needs_enrollment(service: CatalogService) -> Unusable:
    return Unusable(
        "*", f"{service.name!r} needs an active enrollment; enroll with POST /v1/enrollments/"
    )

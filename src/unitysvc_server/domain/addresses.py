"""Catalog addresses to ordered candidates: the lookup the gateway and ``/v1/resolve`` share.

``p/<service-id>``, ``g/<group>``, ``e/<code>`` and listing paths are resolved here, once
for both callers, so a dry run predicts the real choice: the gateway then renders the
first usable channel of the first candidate (``gateway.catalog_router``), ``/v1/resolve`` reports
the candidates (``domain.route_preview``). Aliases, chains and broadcasts name other addresses
and are followed by each caller its own way (the gateway dispatches them as child
requests, the dry run recurses into their targets).

The database is read only when the answer depends on the caller: a collection named like
no platform group, an enrollment code, or a service whose channels need the caller's
secrets or enrollments. A ``p/<id>`` or listing path of managed services reads nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from unitysvc_server.catalog.model import Catalog, CatalogGroup, CatalogService
from unitysvc_server.domain.caller_context import CallerContext
from unitysvc_server.domain.enrollments import ActiveEnrollment
from unitysvc_server.routing.paths import GatewayPath
from unitysvc_server.routing.selection import (
    Candidate,
    LatencyTracker,
    NoRoute,
    RandomSource,
    RoutingError,
    Selection,
    Strategy,
    select,
)
from unitysvc_server.routing.targets import (
    caller_can_use,
    group_candidates,
    group_remainder,
    group_strategy,
    path_candidates,
    prefer_usable,
    service_candidate,
)

#: Address kinds resolved against the catalog (the others name stored gateway paths).
CATALOG_KINDS = frozenset({"service", "group", "path", "enrollment"})


class UnknownAddress(RoutingError):
    """The address names no service, group or enrollment the caller can route to (404)."""


def needs_enrollment_lookup(service: CatalogService) -> bool:
    """Whether the caller's enrollment in ``service`` decides how it is called."""
    return service.enrollment_required or any(c.needs_enrollment for c in service.channels)


def needs_caller_context(service: CatalogService) -> bool:
    """Whether the caller's secrets or enrollments can change this service's usability."""
    return needs_enrollment_lookup(service) or any(c.required_secrets for c in service.channels)


class CallerFacts:
    """The caller's routing facts (secrets, enrollments, collections), read once per request.

    Args:
        customer_id: The caller.
        context: Returns the caller's :class:`CallerContext`; called once, on the first
            fact needed (a managed-only address never reads it). The gateway passes its
            cached context, ``/v1/resolve`` a fresh read.
    """

    def __init__(
        self, customer_id: uuid.UUID, context: Callable[[], Awaitable[CallerContext]]
    ) -> None:
        self.customer_id = customer_id
        self._load = context
        self._context: CallerContext | None = None

    async def context(self) -> CallerContext:
        """The caller's context."""
        if self._context is None:
            self._context = await self._load()
        return self._context

    async def secret_names(self) -> frozenset[str]:
        """Names of the caller's secrets (values are not read)."""
        return (await self.context()).secret_names

    async def enrolled_service_ids(self) -> frozenset[uuid.UUID]:
        """Services the caller holds an active enrollment in."""
        return (await self.context()).enrolled_service_ids

    async def enrollment(self, service: CatalogService) -> ActiveEnrollment | None:
        """The caller's oldest active enrollment in ``service``, or None."""
        return (await self.context()).enrollment_in(service.id)

    async def collection(self, name: str) -> CatalogGroup | None:
        """The caller's enabled collection ``name`` as a routing group, or None."""
        return (await self.context()).collections.get(name)

    async def enrollment_by_code(self, code: str) -> ActiveEnrollment | None:
        """The caller's active enrollment with gateway code ``code``, or None.

        Another customer's code answers None, exactly like an unknown one.
        """
        return (await self.context()).enrollment_by_code(code)


@dataclass(slots=True)
class Target:
    """A catalog address resolved.

    Attributes:
        selection: The candidates, most preferred first, and the strategy applied.
        sub_path: What to forward upstream after the address.
        enrollment: The enrollment the address binds (``e/<code>``, or the caller's in
            a ``p/<service-id>`` that uses one), else None.
    """

    selection: Selection
    sub_path: str
    enrollment: ActiveEnrollment | None = None


async def resolve_address(
    catalog: Catalog,
    path: GatewayPath,
    routing_key: Mapping[str, Any] | None,
    caller: CallerFacts,
    *,
    override: str | None = None,
    rng: RandomSource | None = None,
    latency: LatencyTracker | None = None,
) -> Target:
    """Resolve a ``service``, ``group``, ``enrollment`` or ``path`` address.

    Args:
        catalog: The loaded catalog.
        path: The parsed gateway path (``path.kind`` in :data:`CATALOG_KINDS`).
        routing_key: The request's routing key.
        caller: The caller's facts (collections, secrets, enrollments).
        override: A strategy name replacing the group's (``/v1/resolve``'s ``strategy``);
            at a listing path it chooses among several matches.
        rng: Random source for ``weighted_random``.
        latency: The latency tracker for ``lowest_latency``.

    Raises:
        UnknownAddress: No such listed service, routable group or enrollment of the caller.
        NoRoute: Nothing declared at the path, or no member matches a required key.
        Ambiguous: Several services match a listing path and nothing chooses.
        UnknownStrategy: ``override`` or a group's policy names an unknown strategy.
    """
    if path.kind == "service":
        return await _service_target(catalog, path, caller)
    if path.kind == "group":
        return await _group_target(catalog, path, routing_key, caller, override, rng, latency)
    if path.kind == "path":
        return _path_target(catalog, path, routing_key, override, rng)
    if path.kind != "enrollment":
        raise ValueError(f"{path.kind!r} addresses are not resolved against the catalog")
    return await _enrollment_target(catalog, path, caller)


async def _service_target(catalog: Catalog, path: GatewayPath, caller: CallerFacts) -> Target:
    service = catalog.service(uuid.UUID(path.name))
    if service is None or not service.is_listed:
        raise UnknownAddress(
            f"no active service with id {path.name}; find one with "
            "GET /v1/groups/all_services/services"
        )
    candidate = service_candidate(service)
    enrollment = await caller.enrollment(service) if needs_enrollment_lookup(service) else None
    if enrollment is not None:
        candidate = Candidate(
            service=service, routing_key=candidate.routing_key, enrollment_id=enrollment.id
        )
    return Target(select([candidate], path=f"p/{path.name}"), path.rest, enrollment)


async def _group_target(
    catalog: Catalog,
    path: GatewayPath,
    routing_key: Mapping[str, Any] | None,
    caller: CallerFacts,
    override: str | None,
    rng: RandomSource | None,
    latency: LatencyTracker | None,
) -> Target:
    group = catalog.group(path.name)
    if group is None or not group.is_visible:
        group = await caller.collection(path.name)
    if group is None:
        raise UnknownAddress(f"no group named {path.name!r}; list groups with GET /v1/groups")
    if not group.is_routable:
        raise UnknownAddress(
            f"group {path.name!r} is a {group.group_type} group and does not route "
            "requests; dispatch one of its services (p/<service-id>) instead"
        )
    strategy = group_strategy(group, override)
    candidates = group_candidates(catalog, group)
    # Members the caller can use first; reading the caller's secrets and enrollments
    # only when some member's usability depends on them.
    if any(needs_caller_context(c.service) for c in candidates):
        names = await caller.secret_names()
        enrolled = await caller.enrolled_service_ids()
        candidates = prefer_usable(candidates, lambda s: caller_can_use(s, names, enrolled))
    selection = select(
        candidates,
        path=f"g/{group.name}",
        routing_key=routing_key,
        strategy=strategy,
        rng=rng,
        latency=latency,
    )
    return Target(selection, group_remainder(group, path.rest))


def _path_target(
    catalog: Catalog,
    path: GatewayPath,
    routing_key: Mapping[str, Any] | None,
    override: str | None,
    rng: RandomSource | None,
) -> Target:
    target = path_candidates(catalog, path.rest, routing_key)
    if target is None:
        raise NoRoute(path.rest, nearby_paths(catalog, path.rest))
    strategy_override = Strategy(name=override) if override else None
    selection = select(
        target.candidates, path=target.match.prefix, strategy=strategy_override, rng=rng
    )
    return Target(selection, target.match.remainder)


async def _enrollment_target(catalog: Catalog, path: GatewayPath, caller: CallerFacts) -> Target:
    row = await caller.enrollment_by_code(path.name)
    service = catalog.service(row.service_id) if row is not None else None
    if row is None or service is None or not service.is_listed:
        raise UnknownAddress(
            f"no active enrollment of yours has the code {path.name!r}; list yours with "
            "GET /v1/enrollments/"
        )
    candidate = Candidate(service=service, enrollment_id=row.id)
    return Target(select([candidate], path=f"e/{path.name}"), path.rest, row)


def nearby_paths(catalog: Catalog, path: str) -> list[str]:
    """Declared paths that share the request's first segment (what was tried)."""
    head = path.strip("/").split("/", 1)[0]
    near = sorted(p for p in catalog.declared_paths if p.split("/", 1)[0] == head)
    return near[:20] or [
        "p/<service-id>",
        "g/<group>",
        "a/<alias>",
        "e/<code>",
        "c/<chain>",
        "b/<broadcast>",
        "listing paths (none declared under this prefix)",
    ]

"""Candidates for the addresses the catalog knows: listing paths, services, groups.

Pure helpers shared by the gateway and ``/v1/resolve``, building the
:class:`~unitysvc_server.routing.selection.Candidate` lists that
:func:`~unitysvc_server.routing.selection.select` orders.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from unitysvc_server.catalog.model import (
    WEIGHTED_RANDOM,
    Catalog,
    CatalogGroup,
    CatalogService,
    PathMatch,
    strip_prefix,
)
from unitysvc_server.routing.selection import (
    Candidate,
    NoChannel,
    Strategy,
    channel_check,
    effective_strategy,
    match_routing_key,
    select_channel,
)


@dataclass(frozen=True)
class PathTarget:
    """A listing path resolved to its candidates.

    Attributes:
        match: The declared path and the remainder to forward upstream.
        candidates: The (service, interface) candidates the routing key selects.
    """

    match: PathMatch
    candidates: tuple[Candidate, ...]


def path_candidates(
    catalog: Catalog, path: str, routing_key: Mapping[str, Any] | None
) -> PathTarget | None:
    """Candidates for a listing path (``p/groq/v1/chat/completions``), or None if undeclared.

    Raises:
        NoRoute: The path is declared but no interface there matches the key.
    """
    match = catalog.match_path(path)
    if match is None:
        return None
    declared = [
        Candidate(service=s, interface=i, routing_key=i.routing_key) for s, i in match.entries
    ]
    return PathTarget(match, tuple(match_routing_key(declared, routing_key, path=match.prefix)))


def service_candidate(service: CatalogService) -> Candidate:
    """The single candidate of a ``p/<service-id>`` address."""
    return Candidate(service=service, routing_key=service.native_routing_key)


def group_candidates(catalog: Catalog, group: CatalogGroup) -> list[Candidate]:
    """One candidate per listed member of ``group``, in member order.

    A member's ``routing_key`` (when the group renames it) selects it; the
    service's native key is then what the upstream must receive
    (``upstream_routing_key``).
    """
    out: list[Candidate] = []
    for member in group.members:
        service = catalog.service(member.service_id)
        if service is None or not service.is_listed:
            continue
        native = service.native_routing_key
        key = member.routing_key or native
        upstream = (
            native if member.routing_key and native and member.routing_key != native else None
        )
        out.append(
            Candidate(
                service=service,
                weight=member.weight,
                routing_key=key,
                upstream_routing_key=upstream,
            )
        )
    return out


def group_strategy(group: CatalogGroup, override: str | None = None) -> Strategy:
    """The strategy routing ``g/<group>``: ``override``, else the policy, else weighted.

    A ``keyed`` group refuses requests whose key matches no member.

    Raises:
        UnknownStrategy: ``override`` or the policy names an unknown strategy.
    """
    strategy = effective_strategy(group.routing_policy, override) or Strategy(WEIGHTED_RANDOM)
    if group.group_type == "keyed" and not override:
        params = {**strategy.parameters, "key_required": True}
        strategy = Strategy(
            name=strategy.name,
            content_dependent=True,
            parameters=MappingProxyType(params),
            timeout_ms=strategy.timeout_ms,
        )
    return strategy


def group_remainder(group: CatalogGroup, rest: str) -> str:
    """The sub-path to forward upstream for ``g/<group>/<rest>``.

    When the request came through the group's interface (``g/llm/v1/...``),
    the interface's own path is removed, exactly like a service interface's
    path: members' channels expect the same sub-paths as their own interfaces.
    """
    rest = rest.strip("/")
    if group.interface is not None and group.interface.gateway_path:
        inner = strip_prefix(f"g/{group.name}/{rest}", group.interface.gateway_path)
        if inner is not None:
            return inner
    return rest


def caller_can_use(
    service: CatalogService,
    secret_names: Collection[str],
    enrolled_service_ids: Collection[uuid.UUID],
) -> bool:
    """Whether a caller with these secrets and active enrollments can dispatch ``service``.

    The same rule as :func:`~unitysvc_server.routing.selection.channel_check`
    plus: a service needing an enrollment needs an active one.
    """
    enrolled = service.id in enrolled_service_ids
    if service.enrollment_required and not enrolled:
        return False
    try:
        select_channel(service, channel_check(secret_names, enrollment_active=enrolled))
    except NoChannel:
        return False
    return True


def prefer_usable(
    candidates: Sequence[Candidate], usable: Callable[[CatalogService], bool]
) -> list[Candidate]:
    """The candidates the caller can use; all of them if none is usable.

    Keeping the unusable ones when nothing is usable lets the gateway report
    the concrete reason (e.g. the secret to set) instead of a bare 404.
    """
    usable_ones = [c for c in candidates if usable(c.service)]
    return usable_ones or list(candidates)

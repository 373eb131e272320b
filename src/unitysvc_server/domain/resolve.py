"""``POST /v1/resolve``: a dry run of the gateway's routing (CONTRACT §1.7 Resolve).

Candidates come from the same catalog lookups and the same
:mod:`unitysvc_server.routing.selection` code the gateway runs, so the
pre-selected candidate is the gateway's choice whenever the strategy is
deterministic (``by_price``; ``lowest_latency`` given the same observations).

Per address kind:

* listing path / ``p/<service-id>`` -- the matching service(s); several with
  no strategy to choose answer 200 with every candidate and ``selected`` null
  (the gateway would answer 409);
* ``g/<group>`` -- the members and the group's strategy (or the ``strategy``
  override); ``selected`` is null when the strategy is content-dependent and
  the routing key did not narrow the members (the body decides);
* ``e/<code>`` -- the caller's enrollment's service;
* ``a/<alias>`` -- the alias's target, resolved in turn;
* ``c/<chain>`` -- every step's candidates in order, ``selected`` = the first
  step's pick; ``b/<broadcast>`` -- every target's candidates, nothing selected
  (all are called).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select as select_rows
from sqlalchemy.ext.asyncio import AsyncSession

from unitysvc.models import ResolveCandidate, ResolveRequest, ResolveResponse
from unitysvc_server.catalog.model import Catalog, CatalogGroup, CatalogService
from unitysvc_server.domain import collections, enrollments
from unitysvc_server.domain.aliases import routing_alias
from unitysvc_server.domain.broadcasts import broadcast_by_name, ordered_targets
from unitysvc_server.domain.chains import chain_by_name, ordered_steps
from unitysvc_server.domain.errors import BadRequest, NotFound, Unprocessable
from unitysvc_server.gateway.paths import PathError, parse_gateway_path
from unitysvc_server.routing.selection import (
    Ambiguous,
    Candidate,
    LatencyTracker,
    RandomSource,
    RoutingError,
    Selection,
    Strategy,
    UnknownStrategy,
    select,
)
from unitysvc_server.routing.targets import (
    caller_can_use,
    group_candidates,
    group_strategy,
    path_candidates,
    prefer_usable,
    service_candidate,
)
from unitysvc_server.storage.tables.secrets import SecretRow

MAX_DEPTH = 8


@dataclass(frozen=True)
class Resolution:
    """The outcome for one path."""

    candidates: tuple[Candidate, ...]
    strategy: Strategy | None
    selected: Candidate | None


@dataclass
class _Context:
    session: AsyncSession
    catalog: Catalog
    customer_id: uuid.UUID
    override: str | None
    rng: RandomSource
    latency: LatencyTracker | None


def _strategy_override(name: str | None) -> str | None:
    if not name:
        return None
    try:
        Strategy(name=name)
    except UnknownStrategy as exc:
        raise Unprocessable(("body", "strategy"), str(exc)) from None
    return name


def _split(path: str) -> tuple[str, bytes]:
    text = path.strip()
    if "://" in text:
        # Accept an absolute gateway URL (what SDK schedules store) by its path.
        parts = urlsplit(text)
        text = parts.path + (f"?{parts.query}" if parts.query else "")
    raw_path, _, query = text.lstrip("/").partition("?")
    return raw_path, query.encode("latin-1", "replace")


def _finish(selection: Selection) -> Resolution:
    strategy = selection.strategy
    # Content-dependent without a key that narrowed the pool: the gateway decides by
    # the request body, which a dry run does not have.
    undecided = strategy is not None and strategy.content_dependent and not selection.narrowed
    chosen = None if undecided else selection.selected
    return Resolution(selection.candidates, strategy, chosen)


async def _group(ctx: _Context, name: str) -> CatalogGroup | None:
    group = ctx.catalog.group(name)
    if group is not None and group.is_visible:
        return group
    return await collections.collection_group(ctx.session, ctx.catalog, ctx.customer_id, name)


async def _resolve(
    ctx: _Context, path: str, routing_key: Mapping[str, Any] | None, depth: int
) -> Resolution:
    if depth > MAX_DEPTH:
        raise BadRequest(f"path nests aliases/chains deeper than {MAX_DEPTH} levels")
    raw_path, query = _split(path)
    try:
        parsed = parse_gateway_path(raw_path, query)
    except PathError as exc:
        if exc.status == 404:
            raise NotFound(exc.detail) from None
        raise BadRequest(exc.detail) from None
    where = parsed.target.split("?", 1)[0]
    strategy = Strategy(name=ctx.override) if ctx.override else None
    kind = parsed.kind
    if kind == "service":
        service = ctx.catalog.service(uuid.UUID(parsed.name))
        if service is None or not service.is_listed:
            raise NotFound(f"no active service {parsed.name}")
        candidate = service_candidate(service)
        active = await enrollments.active_enrollments_for(ctx.session, ctx.customer_id, service.id)
        if active:
            candidate = Candidate(
                service=service, routing_key=candidate.routing_key, enrollment_id=active[0].id
            )
        return Resolution((candidate,), None, candidate)
    if kind == "path":
        target = path_candidates(ctx.catalog, parsed.rest, routing_key)
        if target is None:
            raise NotFound(f"no service routes /{where}")
        try:
            return _finish(select(target.candidates, path=where, strategy=strategy, rng=ctx.rng))
        except Ambiguous as exc:
            return Resolution(exc.candidates, None, None)
    if kind == "group":
        group = await _group(ctx, parsed.name)
        if group is None:
            raise NotFound(f"group {parsed.name!r} not found")
        if not group.is_routable:
            raise NotFound(
                f"group {parsed.name!r} is a {group.group_type} and does not route requests"
            )
        chosen = group_strategy(group, ctx.override)
        usable = await _usable(ctx)
        selection = select(
            prefer_usable(group_candidates(ctx.catalog, group), usable),
            path=where,
            routing_key=routing_key,
            strategy=chosen,
            rng=ctx.rng,
            latency=ctx.latency,
        )
        return _finish(selection)
    if kind == "enrollment":
        row = await enrollments.active_enrollment_by_code(ctx.session, parsed.name)
        service = ctx.catalog.service(row.service_id) if row is not None else None
        if row is None or row.customer_id != ctx.customer_id or service is None:
            raise NotFound(f"no active enrollment with code {parsed.name!r}")
        candidate = Candidate(service=service, enrollment_id=row.id)
        return Resolution((candidate,), None, candidate)
    if kind == "alias":
        alias = await routing_alias(ctx.session, ctx.customer_id, parsed.name, routing_key)
        if alias is None:
            raise NotFound(f"no alias {parsed.name!r} routes this request")
        key = {**(routing_key or {}), **(alias.routing_key_override or {})} or None
        return await _resolve(ctx, alias.target_path, key, depth + 1)
    if kind == "chain":
        chain = await chain_by_name(ctx.session, ctx.customer_id, parsed.name)
        if chain is None or not chain.enabled:
            raise NotFound(f"no enabled chain {parsed.name!r}")
        parts = [
            await _resolve(ctx, step.target_path, routing_key, depth + 1)
            for step in ordered_steps(chain)
        ]
        return Resolution(
            tuple(c for p in parts for c in p.candidates),
            None,
            parts[0].selected if parts else None,
        )
    broadcast = await broadcast_by_name(ctx.session, ctx.customer_id, parsed.name)
    if broadcast is None or not broadcast.enabled:
        raise NotFound(f"no enabled broadcast {parsed.name!r}")
    parts = []
    for member in ordered_targets(broadcast):
        key = {**(routing_key or {}), **(member.routing_key_override or {})} or None
        parts.append(await _resolve(ctx, member.target_path, key, depth + 1))
    return Resolution(tuple(c for p in parts for c in p.candidates), None, None)


async def _usable(ctx: _Context) -> Callable[[CatalogService], bool]:
    """The caller's usability predicate (secrets held, active enrollments)."""
    names = set(
        (
            await ctx.session.execute(
                select_rows(SecretRow.name).where(SecretRow.customer_id == ctx.customer_id)
            )
        )
        .scalars()
        .all()
    )
    enrolled = await enrollments.active_service_ids(ctx.session, ctx.customer_id)
    return lambda service: caller_can_use(service, names, enrolled)


def _wire(candidate: Candidate) -> ResolveCandidate:
    return ResolveCandidate(**candidate.to_wire())


async def resolve(
    session: AsyncSession,
    catalog: Catalog,
    customer_id: uuid.UUID,
    body: ResolveRequest,
    *,
    latency: LatencyTracker | None = None,
    rng: RandomSource | None = None,
) -> ResolveResponse:
    """Resolve ``body.path`` for the caller without calling any upstream.

    Raises:
        Unprocessable: Unknown strategy, or a gateway other than ``api``.
        NotFound: Nothing routes the path (the gateway would answer 404).
        BadRequest: A malformed gateway path.
    """
    if body.gateway not in (None, "api"):
        raise Unprocessable(
            ("body", "gateway"), "this platform serves the api gateway only; use 'api'"
        )
    ctx = _Context(
        session=session,
        catalog=catalog,
        customer_id=customer_id,
        override=_strategy_override(body.strategy),
        rng=rng if rng is not None else random.Random(),
        latency=latency,
    )
    try:
        result = await _resolve(ctx, body.path, body.routing_key, 0)
    except RoutingError as exc:
        raise NotFound(exc.detail) from None
    return ResolveResponse(
        candidates=[_wire(c) for c in result.candidates],
        routing_strategy=result.strategy.to_wire() if result.strategy is not None else None,
        selected=_wire(result.selected) if result.selected is not None else None,
    )

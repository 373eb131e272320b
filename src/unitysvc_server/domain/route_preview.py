"""``POST /v1/resolve``: a dry run of the gateway's routing (CONTRACT §1.7 Resolve).

Candidates come from the lookup the gateway runs
(:func:`unitysvc_server.domain.addresses.resolve_address`), so the
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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from unitysvc.models import ResolveCandidate, ResolveRequest, ResolveResponse
from unitysvc_server.catalog.model import Catalog
from unitysvc_server.domain.addresses import CATALOG_KINDS, CallerFacts, resolve_address
from unitysvc_server.domain.broadcasts import broadcast_by_name, ordered_targets
from unitysvc_server.domain.caller_context import CallerContext, load_caller_context
from unitysvc_server.domain.chains import chain_by_name, ordered_steps
from unitysvc_server.domain.errors import BadRequest, NotFound, Unprocessable
from unitysvc_server.routing.paths import MAX_NESTING, PathError, parse_gateway_path
from unitysvc_server.routing.selection import (
    Ambiguous,
    Candidate,
    LatencyTracker,
    RandomSource,
    RoutingError,
    Selection,
    Strategy,
    UnknownStrategy,
)
from unitysvc_server.storage.session import Session


@dataclass(frozen=True)
class Resolution:
    """The outcome for one path."""

    candidates: tuple[Candidate, ...]
    strategy: Strategy | None
    selected: Candidate | None


@dataclass
class _Context:
    session: Session
    catalog: Catalog
    caller: CallerFacts
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


async def _resolve(
    ctx: _Context, path: str, routing_key: Mapping[str, Any] | None, depth: int
) -> Resolution:
    if depth > MAX_NESTING:
        raise BadRequest(f"path nests aliases/chains deeper than {MAX_NESTING} levels")
    raw_path, query = _split(path)
    try:
        parsed = parse_gateway_path(raw_path, query)
    except PathError as exc:
        if exc.status == 404:
            raise NotFound(exc.detail) from None
        raise BadRequest(exc.detail) from None
    kind = parsed.kind
    if kind in CATALOG_KINDS:
        try:
            target = await resolve_address(
                ctx.catalog,
                parsed,
                routing_key,
                ctx.caller,
                override=ctx.override,
                rng=ctx.rng,
                latency=ctx.latency,
            )
        except Ambiguous as exc:
            # The gateway answers 409; the dry run lists every match, choosing none.
            return Resolution(exc.candidates, None, None)
        return _finish(target.selection)
    if kind == "alias":
        alias = (await ctx.caller.context()).routing_alias(parsed.name, routing_key)
        if alias is None:
            raise NotFound(f"no alias {parsed.name!r} routes this request")
        key = {**(routing_key or {}), **(alias.routing_key_override or {})} or None
        return await _resolve(ctx, alias.target_path, key, depth + 1)
    if kind == "chain":
        chain = await chain_by_name(ctx.session, ctx.caller.customer_id, parsed.name)
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
    broadcast = await broadcast_by_name(ctx.session, ctx.caller.customer_id, parsed.name)
    if broadcast is None or not broadcast.enabled:
        raise NotFound(f"no enabled broadcast {parsed.name!r}")
    parts = []
    for member in ordered_targets(broadcast):
        key = {**(routing_key or {}), **(member.routing_key_override or {})} or None
        parts.append(await _resolve(ctx, member.target_path, key, depth + 1))
    return Resolution(tuple(c for p in parts for c in p.candidates), None, None)


def _wire(candidate: Candidate) -> ResolveCandidate:
    return ResolveCandidate(**candidate.to_wire())


async def resolve(
    session: Session,
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

    async def read_caller() -> CallerContext:
        return await load_caller_context(session, customer_id, catalog)

    ctx = _Context(
        session=session,
        catalog=catalog,
        caller=CallerFacts(customer_id, read_caller),
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

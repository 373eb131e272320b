"""Routing selection: which service (and which upstream channel) serves a request.

This is the one implementation used by both the gateway and ``POST /v1/resolve``,
so a dry run predicts the real choice. It is pure: no I/O, no clock, no global
randomness -- the caller passes the candidates, the request's routing key, the
strategy, a random source and a latency tracker.

Flow, for a gateway request:

1. Build candidates: the (service, interface) pairs declared at a listing
   path, or the members of a group (:mod:`unitysvc_server.routing.targets`;
   :mod:`unitysvc_server.domain.addresses` does it per address kind).
2. :func:`match_routing_key` (listing paths) narrows them by the request's
   routing key; :func:`select` applies the group's strategy, or -- with no
   strategy -- insists on exactly one match.
3. :func:`select_channel` picks the selected service's upstream channel.

Errors are typed so the gateway can map them: :class:`NoRoute` -> 404,
:class:`Ambiguous` -> 409, :class:`NoChannel` -> 424 when a secret is missing
(else 403/404 as the gateway decides).
"""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import parse_qs

from unitysvc_server.catalog.model import (
    BY_PRICE,
    STRATEGIES,
    WEIGHTED_RANDOM,
    CatalogService,
    ServiceInterface,
    UpstreamChannel,
    thaw,
)

#: Weight of a candidate that states none (the contract's ``ResolveCandidate.weight``).
DEFAULT_WEIGHT = 10
#: Request field read as the routing key.
ROUTING_FIELD = "model"

_MULTIPART_MODEL = re.compile(
    rb'Content-Disposition:[^\r\n]*\bname="model"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n([^\r\n]*)',
    re.IGNORECASE,
)


class RandomSource(Protocol):
    """What selection needs from a random generator (``random.Random`` fits)."""

    def random(self) -> float:
        """A float in [0, 1)."""
        ...


# -- candidates and strategies ------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A service that could serve a request.

    Attributes:
        service: The service.
        interface: The interface the request addressed (listing paths), or None
            (``p/<id>``, group members).
        weight: Share under ``weighted_random``; 0 is never picked first.
        enrollment_id: The caller's enrollment this candidate is bound to, if any.
        routing_key: The key that selects this candidate: the interface's key at a
            listing path, a member's override or native key in a group.
        upstream_routing_key: What to send upstream instead of ``routing_key``
            when they differ (a collection member renaming ``gpt-4o`` to
            ``fast-gpt``), else None.
    """

    service: CatalogService
    interface: ServiceInterface | None = None
    weight: int = DEFAULT_WEIGHT
    enrollment_id: uuid.UUID | None = None
    routing_key: Mapping[str, Any] | None = None
    upstream_routing_key: Mapping[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The customer-safe ``ResolveCandidate`` fields."""
        return {
            "service_id": self.service.id,
            "service_name": self.service.name,
            "provider_name": self.service.provider_name,
            "weight": self.weight,
            "enrollment_id": self.enrollment_id,
        }


class UnknownStrategy(ValueError):
    """A strategy name this platform does not implement."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown routing strategy {name!r}; use one of {', '.join(STRATEGIES)}")
        self.name = name


@dataclass(frozen=True)
class Strategy:
    """A routing strategy object, as groups declare it in ``routing_policy``.

    Attributes:
        name: ``weighted_random`` | ``by_price`` | ``lowest_latency``.
        content_dependent: The pick depends on the request body: candidates whose
            routing key matches the request's are preferred (see :func:`select`).
        parameters: Strategy options. ``key_required`` (bool): the request's
            key must select candidates (see :func:`select`) instead of
            spreading a non-matching request over all of them.
        timeout_ms: Per-attempt timeout hint for the gateway, or None.
    """

    name: str = WEIGHTED_RANDOM
    content_dependent: bool = False
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    timeout_ms: int | None = None

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise UnknownStrategy(self.name)

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any] | None) -> Strategy | None:
        """The strategy of a group ``routing_policy`` mapping (None stays None).

        Raises:
            UnknownStrategy: The policy names an unknown strategy.
        """
        if policy is None:
            return None
        params = policy.get("parameters")
        timeout = policy.get("timeout_ms")
        return cls(
            name=str(policy.get("name") or WEIGHTED_RANDOM),
            content_dependent=bool(policy.get("content_dependent", False)),
            parameters=params if isinstance(params, Mapping) else MappingProxyType({}),
            timeout_ms=int(timeout) if isinstance(timeout, int) else None,
        )

    @property
    def key_required(self) -> bool:
        """Whether a non-matching routing key is an error rather than a spread."""
        return bool(self.parameters.get("key_required", False))

    def to_wire(self) -> dict[str, Any]:
        """The ``routing_strategy`` object of ``ResolveResponse``."""
        out: dict[str, Any] = {"name": self.name, "content_dependent": self.content_dependent}
        if self.timeout_ms is not None:
            out["timeout_ms"] = self.timeout_ms
        if self.parameters:
            out["parameters"] = thaw(self.parameters)
        return out


def effective_strategy(policy: Mapping[str, Any] | None, override: str | None) -> Strategy | None:
    """The strategy to apply: ``override`` (a name) replaces the group's ``policy``.

    An override keeps nothing of the policy: ``by_price`` over a content-dependent
    group is a plain, content-independent ``by_price``.

    Raises:
        UnknownStrategy: ``override`` or the policy names an unknown strategy.
    """
    if override:
        return Strategy(name=override)
    return Strategy.from_policy(policy)


# -- errors -------------------------------------------------------------------


class RoutingError(Exception):
    """Selection failed; ``detail`` is a customer-safe message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NoRoute(RoutingError):
    """Nothing serves the request (gateway: 404).

    Attributes:
        path: The gateway path asked for.
        tried: What was considered, e.g. the routing keys available there.
    """

    def __init__(self, path: str, tried: Sequence[str], reason: str = "") -> None:
        self.path = path
        self.tried = tuple(tried)
        what = f"; tried: {', '.join(self.tried)}" if self.tried else ""
        super().__init__(f"no service routes /{path.strip('/')}{reason}{what}")


class Ambiguous(RoutingError):
    """Several services match and nothing chooses between them (gateway: 409).

    Attributes:
        path: The gateway path asked for.
        candidates: The matching candidates.
    """

    def __init__(self, path: str, candidates: Sequence[Candidate]) -> None:
        self.path = path
        self.candidates = tuple(candidates)
        names = ", ".join(f"{c.service.name} ({c.service.id})" for c in self.candidates)
        super().__init__(
            f"/{path.strip('/')} matches {len(self.candidates)} services: {names}; "
            "send a routing key that selects one (e.g. a different 'model'), or address "
            "one service as p/<service-id>"
        )


@dataclass(frozen=True)
class Unusable:
    """Why a channel cannot serve this caller.

    Attributes:
        channel: The channel name.
        reason: Customer-safe explanation.
        missing_secret: The customer secret to set, when that is the reason.
    """

    channel: str
    reason: str
    missing_secret: str | None = None


class NoChannel(RoutingError):
    """No upstream channel of the selected service is usable by the caller.

    Attributes:
        service: The service.
        rejections: Per channel, why not (in preference order).
    """

    def __init__(self, service: CatalogService, rejections: Sequence[Unusable]) -> None:
        self.service = service
        self.rejections = tuple(rejections)
        why = "; ".join(f"{r.channel}: {r.reason}" for r in self.rejections) or "none is active"
        super().__init__(f"service {service.name!r} has no channel you can use ({why})")

    @property
    def missing_secrets(self) -> tuple[str, ...]:
        """Customer secrets whose absence blocked a channel, in preference order."""
        return tuple(r.missing_secret for r in self.rejections if r.missing_secret)


# -- routing keys ---------------------------------------------------------------


def apply_override(body: bytes, override: dict[str, Any]) -> bytes:
    """Replace routing fields (``model``) in a JSON object body; other bodies unchanged."""
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    data.update(override)
    return json.dumps(data).encode()


def extract_routing_key(
    body: bytes | None, content_type: str | None = None
) -> dict[str, Any] | None:
    """The routing key of a request body: ``{"model": <value>}``, or None.

    Read from a JSON object body (any content type whose body parses as a JSON
    object), a urlencoded form, or a multipart form field (audio transcription
    uploads carry ``model`` that way). Only non-empty string values count.
    """
    if not body:
        return None
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    value: Any = None
    if ctype == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", "replace")).get(ROUTING_FIELD)
        value = values[0] if values else None
    elif ctype == "multipart/form-data":
        match = _MULTIPART_MODEL.search(body[:65536])
        value = match.group(1).decode("utf-8", "replace").strip() if match else None
    elif body.lstrip()[:1] == b"{":
        try:
            data = json.loads(body)
        except ValueError:
            return None
        value = data.get(ROUTING_FIELD) if isinstance(data, dict) else None
    if isinstance(value, str) and value:
        return {ROUTING_FIELD: value}
    return None


def key_matches(declared: Mapping[str, Any] | None, request_key: Mapping[str, Any] | None) -> bool:
    """Whether a request key selects a declared key: every declared field is equal."""
    if not declared or not request_key:
        return False
    return all(k in request_key and request_key[k] == v for k, v in declared.items())


def _describe_key(key: Mapping[str, Any] | None) -> str:
    if not key:
        return "(no routing key)"
    return json.dumps(thaw(key), sort_keys=True)


def match_routing_key(
    candidates: Sequence[Candidate], routing_key: Mapping[str, Any] | None, *, path: str
) -> list[Candidate]:
    """Narrow the candidates declared at one path by the request's routing key.

    Keyed candidates whose key the request matches win; candidates declared
    without a key serve requests no keyed candidate matches (the key then passes
    through to the upstream).

    Raises:
        NoRoute: Nothing matches; ``tried`` lists the keys available at ``path``.
    """
    keyed = [c for c in candidates if key_matches(c.routing_key, routing_key)]
    if keyed:
        return keyed
    unkeyed = [c for c in candidates if not c.routing_key]
    if unkeyed:
        return unkeyed
    available = sorted({_describe_key(c.routing_key) for c in candidates})
    asked = _describe_key(routing_key)
    raise NoRoute(path, available, reason=f" for routing key {asked}")


# -- price and latency ------------------------------------------------------------


class LatencyTracker:
    """Exponential moving average of observed upstream latency per service.

    The gateway calls :meth:`observe` after each upstream call; selection reads
    :meth:`average`. Single event loop use: no locking.

    Args:
        alpha: Weight of the newest observation (0 < alpha <= 1).
    """

    def __init__(self, alpha: float = 0.2) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self._averages: dict[uuid.UUID, float] = {}

    def observe(self, service_id: uuid.UUID, latency_ms: float) -> None:
        """Record one observed latency in milliseconds."""
        previous = self._averages.get(service_id)
        self._averages[service_id] = (
            latency_ms if previous is None else previous + self.alpha * (latency_ms - previous)
        )

    def average(self, service_id: uuid.UUID) -> float | None:
        """The moving average for ``service_id``, or None before any observation."""
        return self._averages.get(service_id)


def _pricing(service: CatalogService) -> Any:
    from unitysvc_core.models.pricing import validate_pricing

    cache: dict[uuid.UUID, Any] = _PRICING_CACHE
    key = service.id
    entry = cache.get(key)
    if entry is None or entry[0] is not service.list_price:
        parsed = validate_pricing(thaw(service.list_price)) if service.list_price else None
        entry = (service.list_price, parsed)
        cache[key] = entry
    return entry[1]


_PRICING_CACHE: dict[uuid.UUID, tuple[Any, Any]] = {}


def list_price_amount(
    service: CatalogService, *, channel: str | None = None, usage: Mapping[str, Any] | None = None
) -> Decimal | None:
    """What the customer pays for ``service``, for comparison; None when unpriced.

    With ``usage`` (``UsageData`` fields, e.g. an estimate from the request)
    this is core's ``calculate_cost``; otherwise the listing's
    ``effective_price()`` amount for ``channel`` (the channel-price's default
    when None).
    """
    from unitysvc_core.models.pricing import UsageData

    pricing = _pricing(service)
    if pricing is None:
        return None
    if usage is not None:
        return Decimal(pricing.calculate_cost(UsageData(**dict(usage)), channel=channel))
    effective = _effective(pricing, channel)
    return None if effective is None else effective[0]


#: What one nominal request uses, per ``EffectivePrice.unit``: how ``by_price`` compares
#: listings priced in different units (per token, per request, per hour...). A nominal
#: request is 1,000 tokens, one second, one megabyte, 1,000 characters, one image or step.
NOMINAL_REQUEST: Mapping[str, Decimal] = MappingProxyType(
    {
        "request": Decimal(1),
        "one_million_tokens": Decimal(1000) / Decimal(1_000_000),
        "one_hour": Decimal(1) / Decimal(3600),
        "one_gigabyte": Decimal(1) / Decimal(1024),
        "one_million_characters": Decimal(1000) / Decimal(1_000_000),
        "image": Decimal(1),
        "step": Decimal(1),
    }
)


def _effective(pricing: Any, channel: str | None) -> tuple[Decimal, str] | None:
    """``effective_price()`` amount and unit, of ``channel``'s price for a channel price."""
    from unitysvc_core.models.pricing import ChannelPriceData, validate_pricing

    if isinstance(pricing, ChannelPriceData):
        channels = pricing.channels
        pricing = validate_pricing(
            channels.get(channel or pricing.default) or channels[pricing.default]
        )
    effective = pricing.effective_price()
    return None if effective is None else (Decimal(effective.amount), str(effective.unit))


def request_price(service: CatalogService) -> Decimal | None:
    """What one request to ``service`` costs the customer, for ``by_price``; None: unpriced.

    The listing's ``effective_price()`` (which also reads upstream prices stated in a
    description; a channel price's default channel) scaled to :data:`NOMINAL_REQUEST`, so
    listings priced per token, per request or per hour compare on one basis. Listings
    sharing a unit keep the order of their amounts.
    """
    pricing = _pricing(service)
    if pricing is None:
        return None
    effective = _effective(pricing, None)
    if effective is None:
        return None
    amount, unit = effective
    return amount * NOMINAL_REQUEST.get(unit, Decimal(1))


# -- selection ------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select`.

    Attributes:
        candidates: Every eligible candidate, most preferred first (failover order).
        selected: The pick (``candidates[0]``).
        strategy: The strategy applied, or None (a plain path with one match).
        narrowed: Whether the request's routing key narrowed a content-dependent
            strategy to matching candidates.
    """

    candidates: tuple[Candidate, ...]
    selected: Candidate
    strategy: Strategy | None
    narrowed: bool = False

    @property
    def routing_strategy(self) -> dict[str, Any] | None:
        """The ``ResolveResponse.routing_strategy`` value (None: implicit default)."""
        return None if self.strategy is None else self.strategy.to_wire()


def _weighted_order(candidates: Sequence[Candidate], rng: RandomSource) -> list[Candidate]:
    # Efraimidis-Spirakis: sorting by u**(1/w) draws a weighted permutation
    # without replacement, so the head is a weighted pick and the tail a
    # sensible failover order. Zero weights go last, in declared order.
    keyed: list[tuple[float, int, Candidate]] = []
    for index, candidate in enumerate(candidates):
        if candidate.weight > 0:
            u = rng.random()
            score = math.log(u) / candidate.weight if u > 0 else -math.inf
        else:
            score = -math.inf
        keyed.append((score, -index, candidate))
    keyed.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [c for _, _, c in keyed]


def _order(
    strategy: Strategy,
    candidates: Sequence[Candidate],
    *,
    rng: RandomSource,
    latency: LatencyTracker | None,
) -> list[Candidate]:
    shuffled = _weighted_order(candidates, rng)
    if strategy.name == WEIGHTED_RANDOM:
        return shuffled
    rank = {id(c): i for i, c in enumerate(shuffled)}
    if strategy.name == BY_PRICE:

        def price_key(c: Candidate) -> tuple[int, Decimal, str, uuid.UUID]:
            amount = request_price(c.service)
            # Unpriced candidates last; equal prices by name so a dry run is
            # reproducible.
            return (amount is None, amount or Decimal(0), c.service.name, c.service.id)

        return sorted(candidates, key=price_key)

    def latency_key(c: Candidate) -> tuple[float, int]:
        avg = latency.average(c.service.id) if latency is not None else None
        # Unmeasured candidates first: they get measured instead of starving.
        return (-1.0 if avg is None else avg, rank[id(c)])

    return sorted(candidates, key=latency_key)


def select(
    candidates: Sequence[Candidate],
    *,
    path: str,
    routing_key: Mapping[str, Any] | None = None,
    strategy: Strategy | None = None,
    rng: RandomSource | None = None,
    latency: LatencyTracker | None = None,
) -> Selection:
    """Order ``candidates`` by ``strategy`` and pick the first.

    * No strategy (a listing path or ``p/<id>``): exactly one candidate must
      remain, else :class:`Ambiguous`.
    * ``content_dependent``: candidates whose ``routing_key`` the request's key
      matches are kept; if none match, all stay. The named strategy then
      orders them.
    * ``key_required`` (a parameter; keyed groups, collections): the request's
      key must select candidates exactly as at a listing path
      (:func:`match_routing_key`: keyed matches, else unkeyed candidates, else
      :class:`NoRoute` listing the keys that would work).
    * ``weighted_random``: weighted random order (weight default 10).
    * ``by_price``: cheapest price per request first (see :func:`request_price`).
    * ``lowest_latency``: lowest moving-average latency first, unmeasured first.

    Args:
        candidates: The eligible candidates (already narrowed by path/key).
        path: The gateway path, for error messages.
        routing_key: The request's routing key.
        strategy: The strategy, or None.
        rng: Random source (a seeded ``random.Random`` for reproducible tests);
            defaults to a fresh ``random.Random()``.
        latency: The gateway's latency tracker.

    Raises:
        NoRoute: No candidates (or no key match with ``key_required``).
        Ambiguous: Several candidates and no strategy.
    """
    pool = list(candidates)
    if not pool:
        raise NoRoute(path, (), reason=" (no active service is declared there)")
    if strategy is None:
        if len(pool) > 1:
            raise Ambiguous(path, pool)
        return Selection((pool[0],), pool[0], None)
    narrowed = False
    if strategy.key_required:
        narrowed_pool = match_routing_key(pool, routing_key, path=path)
        pool, narrowed = narrowed_pool, len(narrowed_pool) < len(pool)
    elif strategy.content_dependent:
        matching = [c for c in pool if key_matches(c.routing_key, routing_key)]
        if matching:
            pool, narrowed = matching, True
    ordered = _order(
        strategy,
        pool,
        rng=rng if rng is not None else random.Random(),
        latency=latency,
    )
    return Selection(tuple(ordered), ordered[0], strategy, narrowed)


# -- channels ---------------------------------------------------------------------------

ChannelCheck = Callable[[UpstreamChannel], Unusable | None]


def channel_check(secret_names: Iterable[str], *, enrollment_active: bool) -> ChannelCheck:
    """The standard usability rule for a caller, as a pure predicate.

    A channel is usable when it is active, every customer secret it needs
    without a default is in ``secret_names`` (the caller's effective secret
    names), and -- for BYOE channels -- the caller has an active enrollment.

    Args:
        secret_names: Names of the caller's secrets (values not needed).
        enrollment_active: Whether the caller holds an active enrollment for
            the service.
    """
    names = frozenset(secret_names)

    def check(channel: UpstreamChannel) -> Unusable | None:
        if not channel.is_active:
            return Unusable(channel.name, "channel is inactive")
        if channel.needs_enrollment and not enrollment_active:
            return Unusable(channel.name, "needs an active enrollment (POST /v1/enrollments/)")
        for secret in channel.required_secrets:
            if secret not in names:
                return Unusable(
                    channel.name,
                    f"needs the customer secret {secret}; set it with PUT /v1/secrets/{secret}",
                    missing_secret=secret,
                )
        return None

    return check


def select_channel(
    service: CatalogService, check: ChannelCheck, *, requested: str | None = None
) -> UpstreamChannel:
    """The first channel (by ``sort_order``, then name) that ``check`` accepts.

    ``service.channels`` is kept in that order by the catalog: nothing is sorted here,
    on every request.

    Args:
        service: The selected service.
        check: Returns None for a usable channel, else why not.
        requested: A channel named by the caller (``<name>@<channel>``): only it
            is considered.

    Raises:
        NoChannel: No channel is usable (or ``requested`` does not exist).
    """
    channels: Iterable[UpstreamChannel] = service.channels
    if requested is not None:
        channels = [c for c in channels if c.name == requested]
        if not channels:
            names = ", ".join(c.name for c in service.channels)
            raise NoChannel(service, [Unusable(requested, f"no such channel (have: {names})")])
    rejections: list[Unusable] = []
    for channel in channels:
        verdict = check(channel)
        if verdict is None:
            return channel
        rejections.append(verdict)
    raise NoChannel(service, rejections)

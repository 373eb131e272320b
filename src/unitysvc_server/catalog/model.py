"""The in-memory catalog: services, their interfaces and channels, and groups.

Catalogs are read-only data loaded once at start (seller catalog directories,
the demo catalog, the groups file); they are never stored in the database.
Everything here is a frozen value, safe to share between the API, the gateway
and background workers without locks.

Two URL forms matter:

* an interface ``base_url`` as the seller wrote it, with the
  ``${API_GATEWAY_BASE_URL}`` placeholder (``{{ service_name }}`` is already
  substituted at load time, it is static per service);
* its *gateway path*: the part after the placeholder without slashes at either
  end (``p/groq``, ``demo-small/v1``, ``g/llm/v1``) -- the key the gateway
  looks a request path up by.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

#: Placeholder of the HTTP gateway root in interface base URLs.
#: Routing strategy names a group's ``routing_policy`` may declare (``routing.selection``
#: implements them; the catalog only validates the name).
WEIGHTED_RANDOM = "weighted_random"
BY_PRICE = "by_price"
LOWEST_LATENCY = "lowest_latency"
STRATEGIES = (WEIGHTED_RANDOM, BY_PRICE, LOWEST_LATENCY)
API_GATEWAY_PLACEHOLDER = "${API_GATEWAY_BASE_URL}"

#: Namespace of every name-derived UUID of the catalog (services without an id,
#: groups, documents): stable across restarts and machines.
CATALOG_NAMESPACE = uuid.UUID("6f1d3c2a-5b7e-4c1d-9a8f-0e2b4d6c8a10")

ChannelKind = Literal["managed", "byok", "byoe"]

#: Wire group types this server emits: the intersection of the contract
#: versions (CONTRACT.md §5.1 -- ``capability_pool`` crashes 0.2.x clients).
GroupType = Literal["category", "collection", "open", "keyed"]

_CUSTOMER_SECRET = re.compile(
    r"\$\{\s*customer_secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?\?[^}]*)?\}"
)
_SELLER_SECRET = re.compile(r"\$\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?\?[^}]*)?\}")
_OPTIONAL_REF = re.compile(r"\?\?")
_ENROLLMENT_VAR = re.compile(r"\{\{[^}]*\b(?:params|enrollment)\b")


def stable_id(kind: str, name: str) -> uuid.UUID:
    """A UUID derived from ``kind`` and ``name``, identical on every start."""
    return uuid.uuid5(CATALOG_NAMESPACE, f"{kind}:{name}")


def freeze(value: Any) -> Any:
    """A read-only deep copy of JSON-like ``value`` (dicts become mapping proxies)."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable JSON-compatible copy of a frozen value."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


def gateway_path(base_url: str) -> str | None:
    """The gateway path of an interface ``base_url``, or None if it is not a gateway URL.

    ``${API_GATEWAY_BASE_URL}/p/groq`` -> ``p/groq``; the bare placeholder -> ``""``.
    """
    if not base_url.startswith(API_GATEWAY_PLACEHOLDER):
        return None
    return base_url[len(API_GATEWAY_PLACEHOLDER) :].strip("/")


def render_gateway_url(base_url: str, gateway_base: str) -> str:
    """``base_url`` with ``${API_GATEWAY_BASE_URL}`` replaced by ``gateway_base``."""
    return base_url.replace(API_GATEWAY_PLACEHOLDER, gateway_base.rstrip("/"))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@dataclass(frozen=True)
class UpstreamChannel:
    """One upstream access channel of an offering (``upstream_access_config`` entry).

    Attributes:
        name: The channel name (key in ``upstream_access_config``).
        base_url: Upstream base URL, possibly a template (``{{ params.base_url }}``).
        api_key: The credential reference as written (``${ customer_secrets.X }``,
            a disposition such as ``__strip__``), or None.
        routing_key: The upstream's own routing key (e.g. its model id), or None.
        sort_order: Preference among the service's channels (lower first).
        is_active: Inactive channels are never selected.
        kind: ``byoe`` when the config reads enrollment parameters, ``byok`` when
            it reads customer secrets by a fixed name, else ``managed``.
        required_secrets: Customer secret names referenced without a default
            (fixed names only; BYOE names chosen per enrollment are not listed).
        optional_secrets: Customer secret names referenced with a ``?? default``.
        seller_secrets: Seller/platform secret names (``${ secrets.X }``).
        config: The raw channel mapping (read-only), for the gateway's renderer.
    """

    name: str
    base_url: str
    api_key: str | None
    routing_key: Mapping[str, Any] | None
    sort_order: int
    is_active: bool
    kind: ChannelKind
    required_secrets: tuple[str, ...]
    optional_secrets: tuple[str, ...]
    seller_secrets: tuple[str, ...]
    config: Mapping[str, Any]

    @property
    def needs_enrollment(self) -> bool:
        """Whether using the channel needs an active enrollment (BYOE)."""
        return self.kind == "byoe"

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> UpstreamChannel:
        """Build a channel from its ``upstream_access_config`` entry."""
        texts = list(_strings(config))
        required: list[str] = []
        optional: list[str] = []
        for text in texts:
            for match in _CUSTOMER_SECRET.finditer(text):
                bucket = optional if _OPTIONAL_REF.search(match.group(0)) else required
                if match.group(1) not in bucket:
                    bucket.append(match.group(1))
        seller = sorted({m.group(1) for t in texts for m in _SELLER_SECRET.finditer(t)})
        kind: ChannelKind
        if any(_ENROLLMENT_VAR.search(t) for t in texts):
            kind = "byoe"
        elif required or optional or any("customer_secrets." in t for t in texts):
            kind = "byok"
        else:
            kind = "managed"
        api_key = config.get("api_key")
        routing_key = config.get("routing_key")
        return cls(
            name=name,
            base_url=str(config.get("base_url") or ""),
            api_key=api_key if isinstance(api_key, str) else None,
            routing_key=freeze(routing_key) if isinstance(routing_key, Mapping) else None,
            sort_order=int(config.get("sort_order", 0) or 0),
            is_active=bool(config.get("is_active", True)),
            kind=kind,
            required_secrets=tuple(required),
            optional_secrets=tuple(n for n in optional if n not in required),
            seller_secrets=tuple(seller),
            config=freeze(dict(config)),
        )


@dataclass(frozen=True)
class ServiceInterface:
    """A user access interface: where customers call a service (or a group).

    Attributes:
        name: The interface key (``canonical``, ``provider_api``...).
        base_url: As declared, with ``${API_GATEWAY_BASE_URL}`` unrendered.
        routing_key: The request routing key selecting this interface at its
            path (``{"model": ...}``), or None.
        description: Seller's description.
        sort_order: Display/preference order (lower first).
        is_active: Inactive interfaces are neither listed nor routed.
        access_method: ``http``, ``smtp``, ``s3``...
    """

    name: str
    base_url: str
    routing_key: Mapping[str, Any] | None = None
    description: str | None = None
    sort_order: int = 0
    is_active: bool = True
    access_method: str = "http"

    @property
    def gateway_path(self) -> str | None:
        """The path under the gateway root (``p/groq``), or None for non-gateway URLs."""
        return gateway_path(self.base_url)


@dataclass(frozen=True)
class CatalogDocument:
    """A listing or offering document.

    Attributes:
        id: Stable id (derived from the service id and the title).
        title: The document title (its key in the source file).
        category: A ``DocumentCategoryEnum`` value.
        mime_type: ``markdown``, ``python``, ``bash``, ``url``...
        description: Short description.
        is_public: Only public documents are served to customers.
        content: The text (a Jinja template when ``renderable``), or None for
            URL-backed or binary documents.
        filename: Source file name (``.j2`` still attached when renderable).
        external_url: Where to fetch a URL-backed document.
        renderable: Whether ``content`` is a template rendered per interface.
        sort_order: Display order.
        version: Seller's version label.
        meta: Free-form metadata.
    """

    id: uuid.UUID
    title: str
    category: str
    mime_type: str
    description: str | None = None
    is_public: bool = True
    content: str | None = None
    filename: str | None = None
    external_url: str | None = None
    renderable: bool = False
    sort_order: int = 0
    version: str | None = None
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class CatalogService:
    """A published service: provider + offering + listing, merged.

    Attributes:
        id: The service id (``listing.override.json: service_id``, else stable).
        name: The listing name (``service_name``), unique in the catalog.
        display_name: Human-readable name.
        summary: One-line summary (offering).
        description: Long description (offering).
        provider_name: The provider's ``name``.
        seller_name: The seller publishing it (the provider unless stated).
        offering_name: The upstream's own service id (offering ``name``).
        service_type: ``llm``, ``embedding``...
        status: ``active`` | ``deprecated`` | ``draft``.
        visibility: ``public`` | ``unlisted`` | ``private``.
        capabilities: Offering capabilities.
        tags: Offering tags.
        list_price: The customer price (``Pricing`` dict), or None.
        currency: Currency of ``list_price``.
        interfaces: User access interfaces, by ``sort_order``.
        channels: Upstream channels, by ``sort_order`` then name.
        user_parameters_schema: JSON Schema of enrollment parameters, or None.
        enrollment_required: Whether dispatching needs an active enrollment.
        documents: Listing + offering documents.
        details: Offering details (model metadata).
        service_options: Listing ``service_options``.
        created_at: The listing's ``time_created`` (newest-first ordering).
    """

    id: uuid.UUID
    name: str
    display_name: str | None
    summary: str | None
    description: str | None
    provider_name: str
    seller_name: str
    offering_name: str
    service_type: str
    status: str
    visibility: str
    capabilities: tuple[str, ...]
    tags: tuple[str, ...]
    list_price: Mapping[str, Any] | None
    currency: str
    interfaces: tuple[ServiceInterface, ...]
    channels: tuple[UpstreamChannel, ...]
    user_parameters_schema: Mapping[str, Any] | None
    enrollment_required: bool
    documents: tuple[CatalogDocument, ...]
    details: Mapping[str, Any]
    service_options: Mapping[str, Any]
    created_at: datetime

    @property
    def is_listed(self) -> bool:
        """Active and public: visible in listings and routable by path."""
        return self.status == "active" and self.visibility == "public"

    @property
    def is_readable(self) -> bool:
        """Served by ``GET /services/{id}`` (deprecated too, so old invoices render)."""
        return self.visibility == "public" and self.status in ("active", "deprecated")

    @property
    def routing_vars(self) -> Mapping[str, Any]:
        """``service_options.routing_vars`` for channel templates."""
        value = self.service_options.get("routing_vars")
        return value if isinstance(value, Mapping) else MappingProxyType({})

    def channel(self, name: str) -> UpstreamChannel | None:
        """The channel called ``name``, or None."""
        return next((c for c in self.channels if c.name == name), None)

    def interface(self, name: str) -> ServiceInterface | None:
        """The interface called ``name``, or None."""
        return next((i for i in self.interfaces if i.name == name), None)

    @property
    def native_routing_key(self) -> Mapping[str, Any] | None:
        """The key the service answers to: its first keyed interface's, else its channel's.

        Group members without an explicit ``routing_key`` are addressed by it.
        """
        for interface in self.interfaces:
            if interface.routing_key:
                return interface.routing_key
        for channel in self.channels:
            if channel.routing_key:
                return channel.routing_key
        return None


@dataclass(frozen=True)
class GroupMember:
    """A service in a group.

    Attributes:
        service_id: The member service.
        weight: Relative share under ``weighted_random`` (default 10; 0 never picked).
        routing_key: The key that selects this member in content-dependent
            routing, or None to use the service's native key.
    """

    service_id: uuid.UUID
    weight: int = 10
    routing_key: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class CatalogGroup:
    """A platform group (or a customer collection viewed for routing).

    Attributes:
        id: ``stable_id("group", name)`` for platform groups; the row id for
            collections.
        name: Slug (``llm``, ``all_services``); the gateway addresses ``g/<name>``.
        display_name: Human-readable name.
        description: Long description.
        group_type: ``open`` | ``keyed`` | ``collection`` | ``category``.
        routing_policy: ``{"name", "content_dependent", "parameters"}`` or None
            (implicit ``weighted_random``).
        interface: The group-level user access interface, or None.
        members: The member services.
        sort_order: Listing order of platform groups.
        status: ``active`` | ``draft`` | ``private`` | ``archived``.
        owner_type: ``platform`` or ``customer``.
    """

    id: uuid.UUID
    name: str
    display_name: str | None
    description: str | None
    group_type: GroupType
    routing_policy: Mapping[str, Any] | None
    interface: ServiceInterface | None
    members: tuple[GroupMember, ...]
    sort_order: int = 0
    status: str = "active"
    owner_type: str = "platform"

    @property
    def is_visible(self) -> bool:
        """Listed to customers: active platform groups."""
        return self.status == "active"

    @property
    def is_routable(self) -> bool:
        """Whether ``g/<name>`` dispatches (``open`` and ``keyed`` groups)."""
        return self.group_type in ("open", "keyed")


@dataclass(frozen=True)
class PathMatch:
    """The declared gateway path a request path falls under.

    Attributes:
        prefix: The declared path (``p/groq``).
        entries: The (service, interface) pairs declared at ``prefix``.
        remainder: The request path after ``prefix`` (no leading slash), to be
            appended to the upstream channel's ``base_url``.
    """

    prefix: str
    entries: tuple[tuple[CatalogService, ServiceInterface], ...]
    remainder: str


class Catalog:
    """The loaded catalog with its lookups.

    Args:
        services: Every loaded service (any status).
        groups: Platform groups (``all_services`` included by the loader).
        gateway_base_url: Gateway root used to render ``${API_GATEWAY_BASE_URL}``.

    Raises:
        ValueError: Two services share an id or a listing name, or two groups a name.
    """

    def __init__(
        self,
        services: Sequence[CatalogService],
        groups: Sequence[CatalogGroup] = (),
        gateway_base_url: str = "",
    ) -> None:
        self.gateway_base_url = gateway_base_url.rstrip("/")
        self.services: tuple[CatalogService, ...] = tuple(services)
        self.groups: tuple[CatalogGroup, ...] = tuple(sorted(groups, key=_group_order))
        self._by_id: dict[uuid.UUID, CatalogService] = {}
        self._by_name: dict[str, CatalogService] = {}
        for service in self.services:
            if service.id in self._by_id:
                raise ValueError(
                    f"service id {service.id} is used by both {self._by_id[service.id].name!r} "
                    f"and {service.name!r}"
                )
            if service.name in self._by_name:
                raise ValueError(f"two services are named {service.name!r}")
            self._by_id[service.id] = service
            self._by_name[service.name] = service
        self._groups_by_name: dict[str, CatalogGroup] = {}
        self._groups_by_id: dict[uuid.UUID, CatalogGroup] = {}
        for group in self.groups:
            if group.name in self._groups_by_name:
                raise ValueError(f"two groups are named {group.name!r}")
            self._groups_by_name[group.name] = group
            self._groups_by_id[group.id] = group
        paths: dict[str, list[tuple[CatalogService, ServiceInterface]]] = {}
        for service in self.services:
            if not service.is_listed:
                continue
            for interface in service.interfaces:
                path = interface.gateway_path
                if interface.is_active and path:
                    paths.setdefault(path, []).append((service, interface))
        self._paths = {
            k: tuple(sorted(v, key=lambda e: (e[1].sort_order, e[0].name)))
            for k, v in paths.items()
        }
        self._groups_of: dict[uuid.UUID, list[CatalogGroup]] = {}
        for group in self.groups:
            for member in group.members:
                self._groups_of.setdefault(member.service_id, []).append(group)

    def __repr__(self) -> str:
        return f"Catalog(services={len(self.services)}, groups={len(self.groups)})"

    # -- services --------------------------------------------------------------

    def service(self, service_id: uuid.UUID) -> CatalogService | None:
        """The service with ``service_id`` (any status), or None."""
        return self._by_id.get(service_id)

    def service_by_name(self, name: str) -> CatalogService | None:
        """The service whose listing name is ``name``, or None."""
        return self._by_name.get(name)

    def services_by_prefix(self, prefix: str) -> list[CatalogService]:
        """Services whose id (canonical text) starts with ``prefix`` (case-insensitive)."""
        needle = prefix.strip().lower()
        if not needle:
            return []
        return [s for s in self.services if str(s.id).startswith(needle)]

    # -- groups ----------------------------------------------------------------

    def group(self, name_or_id: str | uuid.UUID) -> CatalogGroup | None:
        """The platform group named ``name_or_id`` or with that id, or None."""
        if isinstance(name_or_id, uuid.UUID):
            return self._groups_by_id.get(name_or_id)
        found = self._groups_by_name.get(name_or_id)
        if found is not None:
            return found
        try:
            return self._groups_by_id.get(uuid.UUID(name_or_id))
        except ValueError:
            return None

    def groups_of(self, service_id: uuid.UUID) -> list[CatalogGroup]:
        """Platform groups ``service_id`` is a member of."""
        return list(self._groups_of.get(service_id, ()))

    def group_services(self, group: CatalogGroup) -> list[CatalogService]:
        """The listed member services of ``group``, in member order."""
        found = (self._by_id.get(m.service_id) for m in group.members)
        return [s for s in found if s is not None and s.is_listed]

    # -- gateway paths ---------------------------------------------------------

    @property
    def declared_paths(self) -> tuple[str, ...]:
        """Every gateway path a listed service declares."""
        return tuple(self._paths)

    def interfaces_at(self, path: str) -> tuple[tuple[CatalogService, ServiceInterface], ...]:
        """The (service, interface) pairs declared exactly at gateway path ``path``."""
        return self._paths.get(path.strip("/"), ())

    def match_path(self, path: str) -> PathMatch | None:
        """The longest declared path that ``path`` starts with (on segment boundaries).

        ``p/groq/v1/chat/completions`` -> prefix ``p/groq``, remainder
        ``v1/chat/completions``. Query strings must be removed by the caller.
        """
        segments = path.strip("/").split("/")
        for cut in range(len(segments), 0, -1):
            prefix = "/".join(segments[:cut])
            entries = self._paths.get(prefix)
            if entries:
                return PathMatch(prefix, entries, "/".join(segments[cut:]))
        return None

    def render_url(self, base_url: str) -> str:
        """``base_url`` with ``${API_GATEWAY_BASE_URL}`` replaced by the gateway root."""
        return render_gateway_url(base_url, self.gateway_base_url)


def _group_order(group: CatalogGroup) -> tuple[int, str]:
    return (group.sort_order, group.name)


def strip_prefix(path: str, prefix: str) -> str | None:
    """``path`` without the leading segments ``prefix``, or None if it does not start so.

    Segment-aware: ``g/llm/v1/chat`` minus ``g/llm/v1`` is ``chat``; ``g/llm2``
    does not start with ``g/llm``.
    """
    path, prefix = path.strip("/"), prefix.strip("/")
    if not prefix:
        return path
    if path == prefix:
        return ""
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return None

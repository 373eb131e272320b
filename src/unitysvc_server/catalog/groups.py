"""Platform groups: the groups TOML file (``--groups FILE``) and ``all_services``.

Seller catalogs do not carry groups or routing policies, so the operator
declares them in a small TOML file::

    [[group]]
    name = "llm"                        # slug, addressed as g/llm
    display_name = "LLM (balanced)"
    description = "Chat models behind one OpenAI-compatible endpoint"
    sort_order = 10                     # listing order (default 0)
    status = "active"                   # active | draft | private | archived
    # group_type = "open"               # optional; derived from members otherwise
    routing_policy = { name = "weighted_random", content_dependent = true }
    interface = { base_url = "${API_GATEWAY_BASE_URL}/g/llm/v1", name = "openai" }

    [[group.members]]
    service = "demo-small"              # listing name or service id
    weight = 50                         # default 10
    # routing_key = { model = "small" } # default: the service's own key

    [[group.members]]
    service = "demo-medium"

    # Members may also be selected by attributes (all must match):
    # [group.match]
    # provider_name = "groq"
    # service_type = "llm"
    # tag = "byok"

``routing_policy`` takes ``name`` (``weighted_random`` | ``by_price`` |
``lowest_latency``), ``content_dependent`` (prefer members whose routing key
the request names), ``parameters`` (``key_required``: refuse non-matching
keys) and ``timeout_ms``. ``interface`` takes ``base_url`` (required),
``name`` (default ``default``) and ``description``.

A derived ``group_type`` is ``category`` without members, ``open`` when all
members share a service type (a keyless request may go to any), else ``keyed``
(a routing key is required).

``all_services`` -- every active, public service -- is always present.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from unitysvc_server.catalog.model import (
    STRATEGIES,
    CatalogGroup,
    CatalogService,
    GroupMember,
    GroupType,
    ServiceInterface,
    freeze,
    stable_id,
)

ALL_SERVICES = "all_services"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_GROUP_TYPES = ("category", "collection", "open", "keyed")
_STATUSES = ("active", "draft", "private", "archived")
_MATCH_KEYS = ("provider_name", "seller_name", "service_type", "tag")
_GROUP_KEYS = frozenset(
    {
        "name",
        "display_name",
        "description",
        "sort_order",
        "status",
        "group_type",
        "routing_policy",
        "interface",
        "members",
        "match",
    }
)


class GroupsFileError(ValueError):
    """The groups file is invalid; the message names the group and the field."""


def group_id(name: str) -> uuid.UUID:
    """The stable id of the platform group ``name``."""
    return stable_id("group", name)


def derive_group_type(services: Sequence[CatalogService]) -> GroupType:
    """``category`` (empty), ``open`` (one service type) or ``keyed`` (mixed types)."""
    if not services:
        return "category"
    return "open" if len({s.service_type for s in services}) == 1 else "keyed"


def _fail(where: str, message: str) -> GroupsFileError:
    return GroupsFileError(f"{where}: {message}")


def _policy(raw: Any, where: str) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _fail(where, 'routing_policy must be a table, e.g. { name = "weighted_random" }')
    name = raw.get("name", "weighted_random")
    if name not in STRATEGIES:
        raise _fail(where, f"routing_policy.name {name!r} is unknown; use one of {STRATEGIES}")
    unknown = set(raw) - {"name", "content_dependent", "parameters", "timeout_ms"}
    if unknown:
        raise _fail(where, f"routing_policy has unknown keys {sorted(unknown)}")
    policy: dict[str, Any] = {
        "name": name,
        "content_dependent": bool(raw.get("content_dependent", False)),
    }
    params = raw.get("parameters")
    if params is not None:
        if not isinstance(params, Mapping):
            raise _fail(where, "routing_policy.parameters must be a table")
        policy["parameters"] = dict(params)
    if "timeout_ms" in raw:
        timeout = raw["timeout_ms"]
        if not isinstance(timeout, int) or timeout <= 0:
            raise _fail(where, "routing_policy.timeout_ms must be a positive integer")
        policy["timeout_ms"] = timeout
    frozen: Mapping[str, Any] = freeze(policy)
    return frozen


def _interface(raw: Any, where: str) -> ServiceInterface | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"base_url": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("base_url"), str):
        raise _fail(where, 'interface needs base_url, e.g. "${API_GATEWAY_BASE_URL}/g/<name>"')
    key = raw.get("routing_key")
    return ServiceInterface(
        name=str(raw.get("name", "default")),
        base_url=raw["base_url"],
        routing_key=freeze(key) if isinstance(key, Mapping) else None,
        description=raw.get("description"),
    )


def _lookup(services: Mapping[str, CatalogService], ref: str) -> CatalogService | None:
    found = services.get(ref)
    if found is not None:
        return found
    try:
        wanted = uuid.UUID(ref)
    except ValueError:
        return None
    return next((s for s in services.values() if s.id == wanted), None)


def _matches(service: CatalogService, rule: Mapping[str, Any]) -> bool:
    for key, value in rule.items():
        if key == "tag":
            if value not in service.tags:
                return False
        elif getattr(service, key) != value:
            return False
    return True


def _members(
    spec: Mapping[str, Any], services: Sequence[CatalogService], where: str
) -> list[GroupMember]:
    by_name = {s.name: s for s in services}
    members: list[GroupMember] = []
    seen: set[uuid.UUID] = set()
    raw_members = spec.get("members", [])
    if not isinstance(raw_members, list):
        raise _fail(where, "members must be an array of tables ([[group.members]])")
    for index, raw in enumerate(raw_members):
        at = f"{where}.members[{index}]"
        entry = {"service": raw} if isinstance(raw, str) else raw
        if not isinstance(entry, Mapping) or not isinstance(entry.get("service"), str):
            raise _fail(at, 'needs service = "<listing name or service id>"')
        service = _lookup(by_name, entry["service"])
        if service is None:
            raise _fail(at, f"no service {entry['service']!r} in the loaded catalogs")
        weight = entry.get("weight", 10)
        if not isinstance(weight, int) or weight < 0:
            raise _fail(at, "weight must be an integer >= 0")
        key = entry.get("routing_key")
        if key is not None and not isinstance(key, Mapping):
            raise _fail(at, 'routing_key must be a table, e.g. { model = "fast" }')
        if service.id in seen:
            raise _fail(at, f"{service.name!r} is listed twice")
        seen.add(service.id)
        members.append(GroupMember(service.id, weight, freeze(key) if key else None))
    rule = spec.get("match")
    if rule is not None:
        if not isinstance(rule, Mapping) or set(rule) - set(_MATCH_KEYS):
            raise _fail(where, f"match may use only {', '.join(_MATCH_KEYS)}")
        for service in services:
            if service.is_listed and service.id not in seen and _matches(service, rule):
                seen.add(service.id)
                members.append(GroupMember(service.id))
    return members


def build_group(spec: Mapping[str, Any], services: Sequence[CatalogService]) -> CatalogGroup:
    """One platform group from its TOML table.

    Raises:
        GroupsFileError: A field is invalid or a member is unknown.
    """
    name = spec.get("name")
    if not isinstance(name, str) or not _SLUG.match(name) or len(name) > 100:
        raise _fail(f"group {name!r}", "name must be a slug matching ^[a-z0-9][a-z0-9_-]*$")
    where = f"group {name!r}"
    unknown = set(spec) - _GROUP_KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}")
    status = spec.get("status", "active")
    if status not in _STATUSES:
        raise _fail(where, f"status must be one of {', '.join(_STATUSES)}")
    members = _members(spec, services, where)
    by_id = {s.id: s for s in services}
    group_type = spec.get("group_type") or derive_group_type([by_id[m.service_id] for m in members])
    if group_type not in _GROUP_TYPES:
        raise _fail(where, f"group_type must be one of {', '.join(_GROUP_TYPES)}")
    sort_order = spec.get("sort_order", 0)
    if not isinstance(sort_order, int):
        raise _fail(where, "sort_order must be an integer")
    return CatalogGroup(
        id=group_id(name),
        name=name,
        display_name=spec.get("display_name"),
        description=spec.get("description"),
        group_type=cast(GroupType, group_type),
        routing_policy=_policy(spec.get("routing_policy"), where),
        interface=_interface(spec.get("interface"), where),
        members=tuple(members),
        sort_order=sort_order,
        status=status,
    )


def parse_groups(text: str, services: Sequence[CatalogService], source: str) -> list[CatalogGroup]:
    """Groups from the TOML ``text`` (``source`` names it in errors).

    Raises:
        GroupsFileError: Invalid TOML or an invalid group.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GroupsFileError(f"{source}: not valid TOML: {exc}") from None
    specs = data.get("group", [])
    if not isinstance(specs, list) or set(data) - {"group"}:
        raise GroupsFileError(f"{source}: expected only [[group]] tables")
    groups: list[CatalogGroup] = []
    names: set[str] = set()
    for spec in specs:
        try:
            group = build_group(spec, services)
        except GroupsFileError as exc:
            raise GroupsFileError(f"{source}: {exc}") from None
        if group.name in names or group.name == ALL_SERVICES:
            raise GroupsFileError(f"{source}: group {group.name!r} is declared twice or reserved")
        names.add(group.name)
        groups.append(group)
    return groups


def load_groups_file(path: Path, services: Sequence[CatalogService]) -> list[CatalogGroup]:
    """Groups declared in the TOML file ``path``.

    Raises:
        GroupsFileError: Unreadable or invalid file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise GroupsFileError(f"{path}: cannot read the groups file: {exc.strerror}") from None
    return parse_groups(text, services, str(path))


def all_services_group(services: Iterable[CatalogService]) -> CatalogGroup:
    """The platform group of every active, public service (newest first)."""
    listed = sorted(
        (s for s in services if s.is_listed), key=lambda s: (s.created_at, s.id), reverse=True
    )
    group_type = derive_group_type(listed)
    return CatalogGroup(
        id=group_id(ALL_SERVICES),
        name=ALL_SERVICES,
        display_name="All services",
        description="Every active service on this platform.",
        group_type="keyed" if group_type == "category" else group_type,
        routing_policy=freeze(
            {"name": "weighted_random", "content_dependent": True, "parameters": {}}
        ),
        interface=None,
        members=tuple(GroupMember(s.id) for s in listed),
        sort_order=-1,
        status="active",
    )

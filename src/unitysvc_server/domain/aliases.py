"""Customer aliases: CRUD, the atomic routing ``switch``, and the gateway's lookup.

Several alias rows may share a name, one per target and request routing key. At
most one live row per ``(name, request_routing_key)`` is *routing*; the database
enforces it with a partial unique index, so no interleaving of requests can
break it. ``switch`` demotes the routing sibling with one ``UPDATE`` over the
sibling set (not over rows read earlier), so concurrent switches serialise on the
database and leave exactly one routing row.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from unitysvc.models import (
    ServiceAliasCreate,
    ServiceAliasesPublic,
    ServiceAliasPublic,
    ServiceAliasUpdate,
)
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.errors import Conflict, NotFound, Unprocessable
from unitysvc_server.domain.ownership import get_owned
from unitysvc_server.domain.pages import page_of
from unitysvc_server.domain.patch import PatchField, apply_patch
from unitysvc_server.domain.routing_objects import SLUG, validate_target_path
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.queries import aliases as queries
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.aliases import AliasRow

__all__ = [
    "SwitchResult",
    "alias_public",
    "canonical_routing_key",
    "create_alias",
    "deactivate_alias",
    "get_alias",
    "list_aliases",
    "live_aliases",
    "AliasRef",
    "pick_routing_alias",
    "pick_switch_target",
    "select_routing_alias",
    "switch_alias",
    "update_alias",
    "validate_alias_name",
]

_PARTIAL_UUID = re.compile(r"^[0-9a-f-]+$")
_MIN_PARTIAL_HEX = 8


@dataclass(frozen=True, slots=True)
class SwitchResult:
    """Outcome of :func:`switch_alias`."""

    alias: AliasRow
    demoted_alias_id: uuid.UUID | None


# -- pure rules ----------------------------------------------------------------


def validate_alias_name(name: str) -> str:
    """Return ``name`` if it is a valid alias name, else raise a 422 naming ``name``."""
    if not SLUG.fullmatch(name):
        raise Unprocessable(
            ("body", "name"),
            "alias names are 1-100 characters of lowercase letters, digits, '-' and '_'",
        )
    return name


def canonical_routing_key(routing_key: Mapping[str, Any] | None) -> str:
    """The canonical text of a routing key: sorted compact JSON, ``""`` for none."""
    if not routing_key:
        return ""
    return json.dumps(routing_key, sort_keys=True, separators=(",", ":"), default=str)


def pick_switch_target(rows: Sequence[AliasRow], *, on: bool) -> AliasRow:
    """Choose the row a ``switch`` acts on from its ordered, non-empty match set.

    Turning on: one match is that row; several with none routing pick the first;
    otherwise the row after the (last) routing one, wrapping around, so a bare
    ``switch <name>`` cycles through the name's targets. Turning off acts on the
    (first) routing row, or the first row when none routes.
    """
    if not rows:
        raise ValueError("empty match set")
    if len(rows) == 1:
        return rows[0]
    routing = [index for index, row in enumerate(rows) if row.is_routing]
    if not routing:
        return rows[0]
    if on:
        return rows[(routing[-1] + 1) % len(rows)]
    return rows[routing[0]]


@dataclass(frozen=True, slots=True)
class AliasRef:
    """A live alias as routing reads it: a value, detached from any session."""

    id: uuid.UUID
    name: str
    is_routing: bool
    target_path: str
    request_routing_key: dict[str, Any] | None = None
    routing_key_override: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: AliasRow) -> AliasRef:
        """Snapshot a row."""
        return cls(
            id=row.id,
            name=row.name,
            is_routing=row.is_routing,
            target_path=row.target_path,
            request_routing_key=row.request_routing_key,
            routing_key_override=row.routing_key_override,
        )


class _Routable(Protocol):
    """What alias selection reads of an alias (a row or an :class:`AliasRef`)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def is_routing(self) -> bool: ...
    @property
    def request_routing_key(self) -> Mapping[str, Any] | None: ...


RoutableT = TypeVar("RoutableT", bound=_Routable)


def select_routing_alias(
    rows: Sequence[RoutableT], routing_key: Mapping[str, Any] | None
) -> RoutableT | None:
    """Pick, among routing rows of one name, the one serving a request's routing key.

    A row whose ``request_routing_key`` is non-empty serves requests whose routing
    key contains all of its items; the most specific such row wins. A row without
    a routing key is the fallback for everything else.
    """
    request_key = routing_key or {}
    best: RoutableT | None = None
    best_size = -1
    for row in rows:
        row_key = row.request_routing_key or {}
        matches = all(
            key in request_key and request_key[key] == value for key, value in row_key.items()
        )
        if matches and len(row_key) > best_size:
            best, best_size = row, len(row_key)
    return best


def alias_public(row: AliasRow) -> ServiceAliasPublic:
    """The wire form of an alias row."""
    return ServiceAliasPublic.model_validate(row, from_attributes=True)


# -- CRUD ----------------------------------------------------------------------


async def create_alias(
    session: Session, customer_id: uuid.UUID, body: ServiceAliasCreate, *, shared: bool
) -> AliasRow:
    """Create an alias.

    When ``is_routing`` is requested but a sibling already routes the same
    ``(name, request_routing_key)``, the new row is created non-routing
    (docs/decisions.md); the response shows ``is_routing=false``.

    Raises:
        Unprocessable: Invalid name or target path.
        Conflict: A live alias with the same name, routing key and target exists.
    """
    name = validate_alias_name(body.name)
    target_path = validate_target_path(body.target_path)
    canonical = canonical_routing_key(body.request_routing_key)
    wants_routing = body.is_routing is not False
    if wants_routing:
        wants_routing = await queries.routing_sibling(session, customer_id, name, canonical) is None
    row = AliasRow(
        customer_id=customer_id,
        owner_id=None if shared else customer_id,
        name=name,
        description=body.description,
        request_routing_key=body.request_routing_key or None,
        routing_key_canonical=canonical,
        target_path=target_path,
        routing_key_override=body.routing_key_override or None,
        is_routing=wants_routing,
    )
    try:
        await queries.insert(session, row)
    except Duplicate as exc:
        raise Conflict(_conflict_message(name)) from exc
    return row


async def list_aliases(
    session: Session,
    customer_id: uuid.UUID,
    *,
    skip: int,
    limit: int,
    name: str | None,
    include_deactivated: bool,
    shared: bool,
    cursor: str | None = None,
) -> ServiceAliasesPublic:
    """A page of the customer's aliases, oldest first; ``count`` is the total.

    By ``skip``/``limit``, or after the previous page's ``next_cursor``
    (:func:`~unitysvc_server.domain.pages.page_of`).

    Raises:
        Unprocessable: ``cursor`` is not one of this list's, or comes with ``skip``.
    """
    listing = queries.listing(
        customer_id, name=name, include_deactivated=include_deactivated, shared=shared
    )
    page = await page_of(session, listing, skip=skip, limit=limit, cursor=cursor)
    return page.wire(ServiceAliasesPublic, alias_public)


async def get_alias(session: Session, customer_id: uuid.UUID, alias_id: uuid.UUID) -> AliasRow:
    """One of the customer's aliases (deactivated ones included).

    Raises:
        NotFound: No such alias for this customer.
    """
    return await get_owned(session, AliasRow, alias_id, customer_id, what="alias")


def _store_routing_key(row: AliasRow, value: dict[str, Any] | None) -> None:
    row.request_routing_key = value or None
    row.routing_key_canonical = canonical_routing_key(value)


def _store_override(row: AliasRow, value: dict[str, Any] | None) -> None:
    row.routing_key_override = value or None


#: How ``PATCH /aliases/{id}`` applies each field (the name is immutable).
_PATCH = {
    "description": PatchField(nullable=True),
    "request_routing_key": PatchField(nullable=True, store=_store_routing_key),
    "target_path": PatchField(validate_target_path),
    "routing_key_override": PatchField(nullable=True, store=_store_override),
}


async def update_alias(
    session: Session, customer_id: uuid.UUID, alias_id: uuid.UUID, body: ServiceAliasUpdate
) -> AliasRow:
    """Update the given fields of a live alias (the name is immutable).

    Raises:
        NotFound: No such alias.
        Conflict: The alias is deactivated, or the change collides with another
            live alias (same name, routing key and target, or a second routing row).
        Unprocessable: ``target_path`` is invalid or null.
    """
    row = await get_alias(session, customer_id, alias_id)
    if row.deactivated_at is not None:
        raise Conflict(f"alias {alias_id} is deactivated and cannot be changed")
    apply_patch(row, body, _PATCH)
    await _flush_or_conflict(session, _conflict_message(row.name))
    return row


async def deactivate_alias(
    session: Session, customer_id: uuid.UUID, alias_id: uuid.UUID
) -> AliasRow:
    """Soft-delete an alias: it stops routing and is hidden from default listings.

    Idempotent. No sibling is promoted; use ``switch`` for that.

    Raises:
        NotFound: No such alias.
    """
    row = await get_alias(session, customer_id, alias_id)
    if row.deactivated_at is None:
        row.deactivated_at = utcnow()
        row.is_routing = False
        await queries.flush(session)
    return row


# -- switch --------------------------------------------------------------------


async def switch_alias(
    session: Session,
    customer_id: uuid.UUID,
    identifier: str,
    *,
    on: bool,
    target: str | None = None,
    routing_key: str | None = None,
) -> SwitchResult:
    """Turn routing on (or off) for the alias row ``identifier`` selects.

    ``identifier`` is a full alias UUID, a partial one (8 or more hex digits, a
    prefix of the canonical form), or an alias name; for a name, ``target`` and
    ``routing_key`` narrow the match set by case-insensitive substring.

    Raises:
        NotFound: Nothing matches.
        Conflict: A partial UUID matches several aliases, or a concurrent switch
            won the race (retry).
    """
    matches = await _switch_matches(session, customer_id, identifier, target, routing_key)
    chosen = pick_switch_target(matches, on=on)
    demoted: uuid.UUID | None = None
    if on and not chosen.is_routing:
        # One statement over the whole sibling set: whatever routes *now* is
        # demoted, even a row promoted by a concurrent switch after our read.
        demoted = await queries.demote_routing_siblings(session, customer_id, chosen, utcnow())
        chosen.is_routing = True
    elif not on and chosen.is_routing:
        chosen.is_routing = False
    await _flush_or_conflict(
        session, f"alias {chosen.name!r} was switched concurrently; retry the switch"
    )
    return SwitchResult(alias=chosen, demoted_alias_id=demoted)


async def _switch_matches(
    session: Session,
    customer_id: uuid.UUID,
    identifier: str,
    target: str | None,
    routing_key: str | None,
) -> list[AliasRow]:
    try:
        alias_id = uuid.UUID(identifier)
    except ValueError:
        alias_id = None
    if alias_id is not None:
        row = await queries.live_for_update(session, customer_id, alias_id)
        if row is not None:
            return [row]
    elif _is_partial_uuid(identifier):
        ids = [
            row_id
            for row_id in await queries.live_ids(session, customer_id)
            if str(row_id).startswith(identifier) or row_id.hex.startswith(identifier)
        ]
        if len(ids) > 1:
            raise Conflict(
                f"{identifier!r} matches {len(ids)} aliases; give more digits or the full id"
            )
        if ids:
            row = await queries.live_for_update(session, customer_id, ids[0])
            if row is not None:
                return [row]
    rows = await queries.live_by_name_for_update(session, customer_id, identifier)
    matches = [row for row in rows if _matches_filters(row, target, routing_key)]
    if not matches:
        narrowed = " with the given target/routing_key filters" if rows else ""
        raise NotFound(f"no live alias matches {identifier!r}{narrowed}")
    return matches


def _is_partial_uuid(identifier: str) -> bool:
    return bool(_PARTIAL_UUID.fullmatch(identifier)) and (
        len(identifier.replace("-", "")) >= _MIN_PARTIAL_HEX
    )


def _matches_filters(row: AliasRow, target: str | None, routing_key: str | None) -> bool:
    if target and target.lower() not in row.target_path.lower():
        return False
    if routing_key:
        values = (str(value).lower() for value in (row.request_routing_key or {}).values())
        if not any(routing_key.lower() in value for value in values):
            return False
    return True


# -- gateway lookup ------------------------------------------------------------


async def live_aliases(session: Session, customer_id: uuid.UUID) -> list[AliasRow]:
    """The customer's live (not deactivated) alias rows, oldest first."""
    return await queries.live(session, customer_id)


def pick_routing_alias(
    live: Sequence[RoutableT], name: str, routing_key: Mapping[str, Any] | None
) -> RoutableT | None:
    """Among a customer's live aliases, the row that serves ``a/<name>`` for a request.

    When ``name`` is the UUID of one of them, that row, whether routing or not
    (``a/<id>`` addresses one row directly). Otherwise, among the routing rows named
    ``name``, the one whose ``request_routing_key`` matches the request's routing key
    (the fields the gateway extracted from the request, e.g. ``{"model": "gpt-4o"}``)
    most specifically (:func:`select_routing_alias`); a row without a routing key serves
    every other request.
    """
    try:
        alias_id = uuid.UUID(name)
    except ValueError:
        alias_id = None
    if alias_id is not None:
        direct = next((row for row in live if row.id == alias_id), None)
        if direct is not None:
            return direct
    named = [row for row in live if row.name == name and row.is_routing]
    return select_routing_alias(named, routing_key)


# -- helpers -------------------------------------------------------------------


def _conflict_message(name: str) -> str:
    return (
        f"alias {name!r} already has a live row with this request_routing_key and "
        "target_path, or another row already routes this request_routing_key"
    )


async def _flush_or_conflict(session: Session, message: str) -> None:
    try:
        await queries.flush_unique(session)
    except Duplicate as exc:
        raise Conflict(message) from exc

"""Budgets: per-cycle spend caps on a customer's gateway calls (``/v1/budgets``).

A budget caps the charges of the calls in its scope — every call (``all``), calls to one
service, calls addressed to one group (``g/<name>``), or calls made with one API key —
over a cycle (the calendar month, UTC, as ``GET /v1/usage/cycle``). Its hard cap refuses
calls once reached (the gateway's budget gate, :mod:`unitysvc_server.gateway.budgets`);
its optional alert threshold makes calls carry a warning header. Amounts are decimal
strings on the wire and integers of 10^-12 currency units in the database, like usage
charges (docs/decisions.md, "Budgets and spend caps").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from unitysvc.models import BudgetCreate, BudgetPublic, BudgetsPublic, BudgetStatus, BudgetUpdate
from unitysvc_server.catalog.model import Catalog
from unitysvc_server.crypto import api_key_hint, hash_api_key
from unitysvc_server.domain.budget_spend import add_spend, read_spend
from unitysvc_server.domain.errors import Conflict, NotFound, Unprocessable
from unitysvc_server.domain.usage import (
    CHARGE_PLACES,
    DEFAULT_CURRENCY,
    cycle_bounds,
    format_charge,
)
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.queries import budgets as queries
from unitysvc_server.storage.queries import usage as usage_queries
from unitysvc_server.storage.session import Session, Sessions
from unitysvc_server.storage.tables.budgets import BudgetRow

__all__ = [
    "MAX_AMOUNT",
    "SCOPES",
    "BudgetRule",
    "budget_rules",
    "create_budget",
    "current_cycle",
    "delete_budget",
    "from_units",
    "get_budget",
    "get_status",
    "list_budgets",
    "load_rules",
    "to_units",
    "update_budget",
]

SCOPES = ("all", "service", "group", "key")
#: The largest cap or threshold: a billion currency units (fits 64-bit integers of
#: 10^-12 units with room for the overshoot of in-flight calls).
MAX_AMOUNT = Decimal(1_000_000_000)


def to_units(value: Decimal) -> int:
    """An exact amount as an integer of 10^-12 currency units."""
    return int(value.scaleb(CHARGE_PLACES))


def from_units(units: int) -> Decimal:
    """10^-12 currency units as a ``Decimal`` amount."""
    return Decimal(units).scaleb(-CHARGE_PLACES)


def current_cycle(now: datetime) -> tuple[date, date]:
    """The cycle ``now`` falls in: its first day and the first day after it."""
    return cycle_bounds(None, now.astimezone(UTC).date())


def _amount(field: str, text: str | None) -> int:
    """A positive decimal string as units, or a 422 at ``["body", field]`` saying why."""
    example = 'a decimal string such as "25" or "12.50"'
    if text is None:
        raise Unprocessable(("body", field), f"{field} is required: {example}")
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise Unprocessable(
            ("body", field), f"{field} {text!r} is not an amount: send {example}"
        ) from None
    if not value.is_finite():
        raise Unprocessable(("body", field), f"{field} must be a finite amount: send {example}")
    if value <= 0:
        raise Unprocessable(
            ("body", field),
            f"{field} must be greater than 0 (got {text}); to stop capping calls, delete the "
            "budget",
        )
    if value > MAX_AMOUNT:
        raise Unprocessable(("body", field), f"{field} must be at most {MAX_AMOUNT:f}")
    if value != value.quantize(Decimal(1).scaleb(-CHARGE_PLACES)):
        raise Unprocessable(
            ("body", field), f"{field} has more than {CHARGE_PLACES} decimal places"
        )
    return to_units(value)


def _check_threshold(alert: int | None, cap: int) -> None:
    if alert is not None and alert > cap:
        raise Unprocessable(
            ("body", "alert_threshold"),
            f"alert_threshold ({format_charge(from_units(alert))}) is above the cap "
            f"({format_charge(from_units(cap))}): make it at most the cap, or raise the cap",
        )


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """What the gateway needs of one budget (cached per customer).

    Attributes:
        id: The budget's id.
        name: The budget's name.
        scope: ``all``, ``service``, ``group`` or ``key``.
        service_id: The service of a ``service`` budget.
        group_name: The group of a ``group`` budget.
        key_id: The API key of a ``key`` budget.
        cap_units: The hard cap, in 10^-12 currency units.
        alert_units: The alert threshold, in the same units, if any.
        currency: The currency whose charges count.
    """

    id: uuid.UUID
    name: str
    scope: str
    service_id: uuid.UUID | None
    group_name: str | None
    key_id: uuid.UUID | None
    cap_units: int
    alert_units: int | None
    currency: str

    def matches(
        self,
        service_id: uuid.UUID,
        group_name: str | None,
        key_id: uuid.UUID | None,
        currency: str,
    ) -> bool:
        """Whether a call to ``service_id`` (through ``group_name``, with ``key_id``,
        charged in ``currency``) counts against this budget."""
        if currency != self.currency:
            return False
        if self.scope == "service":
            return service_id == self.service_id
        if self.scope == "group":
            return group_name is not None and group_name == self.group_name
        if self.scope == "key":
            return key_id is not None and key_id == self.key_id
        return True

    def scope_text(self) -> str:
        """The scope as people read it (``all``, ``service <id>``, ``group llm``...)."""
        target = self.service_id or self.group_name or self.key_id
        return self.scope if target is None else f"{self.scope} {target}"


def _rule(row: BudgetRow) -> BudgetRule:
    return BudgetRule(
        id=row.id,
        name=row.name,
        scope=row.scope,
        service_id=row.service_id,
        group_name=row.group_name,
        key_id=row.key_id,
        cap_units=row.cap_pico,
        alert_units=row.alert_pico,
        currency=row.currency,
    )


async def budget_rules(session: Session, customer_id: uuid.UUID) -> tuple[BudgetRule, ...]:
    """Every budget of ``customer_id`` as the gateway checks them (oldest first)."""
    return tuple(_rule(row) for row in await queries.for_customer(session, customer_id))


async def load_rules(sessions: Sessions, customer_id: uuid.UUID) -> tuple[BudgetRule, ...]:
    """:func:`budget_rules` in a session of its own (the gateway's cache loader)."""
    async with sessions() as session:
        return await budget_rules(session, customer_id)


# -- reading ------------------------------------------------------------------------


def _status(row: BudgetRow, spent: int, start: date, following: date) -> BudgetStatus:
    return BudgetStatus(
        budget_id=row.id,
        cycle_start=start,
        cycle_end=following - timedelta(days=1),
        currency=row.currency,
        cap=format_charge(from_units(row.cap_pico)),
        alert_threshold=(
            None if row.alert_pico is None else format_charge(from_units(row.alert_pico))
        ),
        spent=format_charge(from_units(spent)),
        remaining=format_charge(from_units(max(row.cap_pico - spent, 0))),
        alerting=row.alert_pico is not None and spent >= row.alert_pico,
        exhausted=spent >= row.cap_pico,
    )


async def _key_hints(session: Session, rows: list[BudgetRow]) -> dict[uuid.UUID, str]:
    key_ids = [row.key_id for row in rows if row.key_id is not None]
    if not key_ids:
        return {}
    return await queries.key_hints(session, key_ids)


async def _publics(
    session: Session, catalog: Catalog, rows: list[BudgetRow], now: datetime
) -> list[BudgetPublic]:
    start, following = current_cycle(now)
    spent = await read_spend(session, [row.id for row in rows], start)
    hints = await _key_hints(session, rows)
    out: list[BudgetPublic] = []
    for row in rows:
        target: str | None = None
        target_name: str | None = None
        if row.service_id is not None:
            target = str(row.service_id)
            service = catalog.service(row.service_id)
            target_name = service.name if service is not None else None
        elif row.group_name is not None:
            target = row.group_name
        elif row.key_id is not None:
            target = hints.get(row.key_id)
        out.append(
            BudgetPublic(
                id=row.id,
                name=row.name,
                scope=row.scope,
                target=target,
                target_name=target_name,
                cap=format_charge(from_units(row.cap_pico)),
                alert_threshold=(
                    None if row.alert_pico is None else format_charge(from_units(row.alert_pico))
                ),
                currency=row.currency,
                created_at=row.created_at,
                updated_at=row.updated_at or row.created_at,
                status=_status(row, spent.get(row.id, 0), start, following),
            )
        )
    return out


async def _find(session: Session, customer_id: uuid.UUID, budget_id: uuid.UUID) -> BudgetRow:
    row = await queries.owned(session, customer_id, budget_id)
    if row is None:
        raise NotFound(f"budget {budget_id} not found; `usvc budgets list` shows yours")
    return row


async def list_budgets(
    session: Session, catalog: Catalog, customer_id: uuid.UUID, now: datetime
) -> BudgetsPublic:
    """The customer's budgets, oldest first, each with its current-cycle status."""
    rows = list(await queries.for_customer(session, customer_id))
    data = await _publics(session, catalog, rows, now)
    return BudgetsPublic(data=data, count=len(data))


async def get_budget(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    budget_id: uuid.UUID,
    now: datetime,
) -> BudgetPublic:
    """One of the customer's budgets with its status.

    Raises:
        NotFound: No such budget of this customer.
    """
    row = await _find(session, customer_id, budget_id)
    return (await _publics(session, catalog, [row], now))[0]


async def get_status(
    session: Session, customer_id: uuid.UUID, budget_id: uuid.UUID, now: datetime
) -> BudgetStatus:
    """A budget's spend in the current cycle.

    Raises:
        NotFound: No such budget of this customer.
    """
    row = await _find(session, customer_id, budget_id)
    start, following = current_cycle(now)
    spent = await read_spend(session, [row.id], start)
    return _status(row, spent.get(row.id, 0), start, following)


# -- writing ------------------------------------------------------------------------


_Target = tuple[uuid.UUID | None, str | None, uuid.UUID | None, str]


def _service_target(catalog: Catalog, text: str) -> _Target:
    """The target of a ``service`` budget: a listed service, by name or id."""
    service = catalog.service_by_name(text)
    if service is None:
        try:
            service = catalog.service(uuid.UUID(text))
        except ValueError:
            service = None
    if service is None or not service.is_readable:
        raise Unprocessable(
            ("body", "target"), f"unknown service {text!r}: give a listed service's id or name"
        )
    return service.id, None, None, service.currency or DEFAULT_CURRENCY


async def _resolve_target(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    scope: str,
    target: str | None,
) -> tuple[uuid.UUID | None, str | None, uuid.UUID | None, str]:
    """``(service_id, group_name, key_id, currency)`` of a scope and its target."""
    where = ("body", "target")
    text = (target or "").strip()
    if scope == "all":
        if text:
            raise Unprocessable(
                where, "an 'all' budget has no target: leave target out, or pick another scope"
            )
        return None, None, None, DEFAULT_CURRENCY
    if not text:
        examples = {
            "service": "a service id or name, e.g. from `usvc services list`",
            "group": "a group name, e.g. 'llm' (the g/<name> you call)",
            "key": "one of your API keys, or its hint from `usvc server keys list`",
        }
        raise Unprocessable(where, f"a '{scope}' budget needs a target: {examples[scope]}")
    if scope == "service":
        return _service_target(catalog, text)
    if scope == "group":
        if catalog.group(text) is None:
            own = await queries.collection_id(session, customer_id, text)
            if own is None:
                raise Unprocessable(
                    where,
                    f"unknown group {text!r}: give a platform group's name or one of your "
                    "collections (`usvc groups list`)",
                )
        group = catalog.group(text)
        return None, (group.name if group is not None else text), None, DEFAULT_CURRENCY
    # key: the whole key (matched by its hash) or its listed hint, among the caller's own.
    found = (
        await queries.live_key_ids(session, customer_id, key_hash=hash_api_key(text))
        if len(text) > len(api_key_hint(text))
        else await queries.live_key_ids(session, customer_id, hint=text)
    )
    shown = api_key_hint(text)  # never echo a whole key
    if not found:
        raise Unprocessable(
            where, f"no live API key of yours matches {shown!r}: give the key or its hint"
        )
    if len(found) > 1:
        raise Unprocessable(where, f"hint {shown!r} matches several of your keys: give the key")
    return None, None, found[0], DEFAULT_CURRENCY


async def _seed(session: Session, row: BudgetRow, now: datetime) -> None:
    """Count what the cycle already charged in the new budget's scope.

    Usage events record the service, not the key or the group a call came through: those
    budgets count from their creation on.
    """
    if row.scope not in ("all", "service"):
        return
    start, following = current_cycle(now)
    already = await usage_queries.charged(
        session,
        row.customer_id,
        row.currency,
        datetime.combine(start, datetime.min.time(), UTC),
        datetime.combine(following, datetime.min.time(), UTC),
        service_id=row.service_id,
    )
    if already:
        await add_spend(session, {row.id: already}, start)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"you already have a budget named {name!r}; pick another name")


async def create_budget(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    body: BudgetCreate,
    now: datetime,
) -> BudgetPublic:
    """Create a budget (validated: the target exists, 0 < threshold <= cap).

    Raises:
        Unprocessable: A bad amount, an unknown target, a threshold above the cap.
        Conflict: A budget of that name exists.
    """
    scope = body.scope or "all"
    cap = _amount("cap", body.cap)
    alert = (
        None if body.alert_threshold is None else _amount("alert_threshold", body.alert_threshold)
    )
    _check_threshold(alert, cap)
    name = body.name.strip()
    if not name:
        raise Unprocessable(("body", "name"), "name must not be blank, e.g. 'monthly'")
    service_id, group_name, key_id, currency = await _resolve_target(
        session, catalog, customer_id, scope, body.target
    )
    row = BudgetRow(
        customer_id=customer_id,
        name=name,
        scope=scope,
        service_id=service_id,
        group_name=group_name,
        key_id=key_id,
        cap_pico=cap,
        alert_pico=alert,
        currency=currency,
        created_at=now,
    )
    try:
        await queries.insert(session, row)
    except Duplicate:
        raise _name_taken(name) from None
    await _seed(session, row, now)
    return (await _publics(session, catalog, [row], now))[0]


async def update_budget(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    budget_id: uuid.UUID,
    body: BudgetUpdate,
    now: datetime,
) -> BudgetPublic:
    """Change a budget's name, cap or threshold (``alert_threshold: null`` removes it).

    Raises:
        NotFound: No such budget of this customer.
        Unprocessable: A bad amount or a threshold above the (new) cap.
        Conflict: Another budget has the new name.
    """
    row = await _find(session, customer_id, budget_id)
    given = body.model_fields_set
    cap = row.cap_pico if "cap" not in given else _amount("cap", body.cap)
    alert = row.alert_pico
    if "alert_threshold" in given:
        alert = (
            None
            if body.alert_threshold is None
            else _amount("alert_threshold", body.alert_threshold)
        )
    _check_threshold(alert, cap)
    if "name" in given:
        name = (body.name or "").strip()
        if not name:
            raise Unprocessable(("body", "name"), "name must not be blank, e.g. 'monthly'")
        row.name = name
    row.cap_pico, row.alert_pico = cap, alert
    try:
        await queries.flush_unique(session)
    except Duplicate:
        raise _name_taken(row.name) from None
    return (await _publics(session, catalog, [row], now))[0]


async def delete_budget(session: Session, customer_id: uuid.UUID, budget_id: uuid.UUID) -> None:
    """Delete one of the customer's budgets (its counters go with it).

    Raises:
        NotFound: No such budget of this customer.
    """
    row = await _find(session, customer_id, budget_id)
    await queries.delete(session, row)

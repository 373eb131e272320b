"""Usage and cost: what each metered gateway call used, what it cost, and the cycle view.

The gateway meters every upstream call it makes for a customer
(:mod:`unitysvc_server.gateway.metering`) and hands a :class:`UsageEvent` to the log
writer, which stores it with :func:`write_usage_events`. The charge is computed once, when
the call ends, by :class:`Pricer` from the service's catalog ``list_price`` through
unitysvc-core's own pricing models (``calculate_cost``: ``Decimal`` arithmetic, never
floats), for the channel that served the call. Only successful calls are charged; a
failed one is recorded (it counts as an error) at zero.

Rounding: a call's exact charge is rounded half-even to 12 decimal places (10^-12 of the
currency unit) and stored as an integer of those units, so the totals below are exact
sums on SQLite and PostgreSQL alike. Charges are rendered as plain decimal strings
without exponent or trailing zeros (``"0.0000007"``, ``"0"``).

Cycles are calendar months in UTC (docs/decisions.md, "Usage and cost").
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from unitysvc.models import CycleUsageResponse, ServiceUsagePublic
from unitysvc_server.catalog.model import Catalog, CatalogService, stable_id, thaw
from unitysvc_server.domain.errors import Conflict, Unprocessable
from unitysvc_server.storage.queries import usage as queries
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.usage import UsageEventRow

__all__ = [
    "CHARGE_PLACES",
    "DEFAULT_CURRENCY",
    "Pricer",
    "Usage",
    "UsageEvent",
    "cycle_bounds",
    "cycle_usage",
    "format_charge",
    "usage_event_info",
    "write_usage_events",
]

logger = logging.getLogger("unitysvc_server.usage")

#: Decimal places a recorded charge keeps.
CHARGE_PLACES = 12
_QUANTUM = Decimal(1).scaleb(-CHARGE_PLACES)
_UNITS = 10**CHARGE_PLACES
#: The currency of a cycle without events (and of services whose catalog names none).
DEFAULT_CURRENCY = "USD"
_TOKEN_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "total_tokens")


@dataclass(frozen=True, slots=True)
class Usage:
    """What one call used.

    Attributes:
        input_tokens: Prompt tokens billed at the input rate (cached ones excluded).
        cached_input_tokens: Prompt tokens served from the upstream's cache.
        output_tokens: Completion tokens.
        total_tokens: As the upstream reported it.
        bytes_in: Request body bytes sent upstream.
        bytes_out: Response body bytes received.
        duration_ms: From sending the request to the end of the response body.
    """

    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    duration_ms: int = 0

    def metrics(self) -> dict[str, float]:
        """The wire ``usage_metrics``: token counts the upstream reported, bytes, time."""
        out: dict[str, float] = {
            name: value for name in _TOKEN_FIELDS if (value := getattr(self, name)) is not None
        }
        out["bytes_in"] = self.bytes_in
        out["bytes_out"] = self.bytes_out
        out["duration_seconds"] = self.duration_ms / 1000
        return out

    def _core_usage(self) -> Any:
        from unitysvc_core.models.pricing import UsageData

        tokens = {n: v for n in _TOKEN_FIELDS if (v := getattr(self, n)) is not None}
        if "input_tokens" in tokens or "output_tokens" in tokens:
            # Core bills total_tokens as input when input_tokens is absent only.
            tokens.pop("total_tokens", None)
        return UsageData(
            **tokens,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            duration_seconds=self.duration_ms / 1000,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageEvent:
    """One metered call, as the gateway hands it to the writer."""

    id: uuid.UUID
    customer_id: uuid.UUID
    service_id: uuid.UUID
    channel: str
    enrollment_id: uuid.UUID | None
    event_timestamp: datetime
    status_code: int | None
    success: bool
    usage: Usage
    charge: Decimal
    currency: str
    pricing_bundle_id: str | None


def format_charge(value: Decimal) -> str:
    """A charge as a plain decimal string (12 places at most, no exponent)."""
    text = format(value.quantize(_QUANTUM, ROUND_HALF_EVEN).normalize(), "f")
    return "0" if Decimal(text) == 0 else text


def _to_units(value: Decimal) -> int:
    return int(value.quantize(_QUANTUM, ROUND_HALF_EVEN).scaleb(CHARGE_PLACES))


def _from_units(units: int) -> Decimal:
    return Decimal(units).scaleb(-CHARGE_PLACES)


class Pricer:
    """Charges calls by the catalog's list prices, parsing each service's pricing once.

    The parsed pricing is kept per service object (the catalog is immutable while the
    process runs); a catalog price core cannot evaluate for a call (a per-image price
    and no image count) charges nothing and is logged once per service.
    """

    def __init__(self) -> None:
        self._parsed: dict[uuid.UUID, tuple[CatalogService, Any, str | None]] = {}
        self._warned: set[uuid.UUID] = set()

    def _pricing(self, service: CatalogService) -> tuple[Any, str | None]:
        cached = self._parsed.get(service.id)
        if cached is not None and cached[0] is service:
            return cached[1], cached[2]
        pricing: Any = None
        bundle: str | None = None
        if service.list_price:
            from unitysvc_core.models.pricing import validate_pricing

            raw = thaw(service.list_price)
            pricing = validate_pricing(raw)
            canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"))
            bundle = str(stable_id("pricing", f"{service.id}:{canonical}"))
        self._parsed[service.id] = (service, pricing, bundle)
        return pricing, bundle

    def bundle_id(self, service: CatalogService) -> str | None:
        """A stable id of the price list applied to ``service`` (``pricing_bundle_id``)."""
        return self._pricing(service)[1]

    def charge(self, service: CatalogService, channel: str, usage: Usage) -> Decimal:
        """The exact charge of one successful call through ``channel`` of ``service``."""
        pricing, _ = self._pricing(service)
        if pricing is None:
            return Decimal(0)
        try:
            cost = pricing.calculate_cost(usage._core_usage(), channel=channel or None)
        except (ValueError, ArithmeticError, KeyError) as exc:
            if service.id not in self._warned:
                self._warned.add(service.id)
                logger.warning(
                    "the list price of %s cannot be evaluated for a call (%s); "
                    "its calls are charged nothing",
                    service.name,
                    exc,
                )
            return Decimal(0)
        return Decimal(cost)


# -- writes ------------------------------------------------------------------------


def _row_values(event: UsageEvent) -> dict[str, Any]:
    usage = event.usage
    return {
        "id": event.id,
        "customer_id": event.customer_id,
        "event_timestamp": event.event_timestamp,
        "service_id": event.service_id,
        "channel": event.channel[:64],
        "enrollment_id": event.enrollment_id,
        "status_code": event.status_code,
        "success": event.success,
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "bytes_in": usage.bytes_in,
        "bytes_out": usage.bytes_out,
        "duration_ms": usage.duration_ms,
        "charge_pico": _to_units(event.charge),
        "currency": event.currency[:8],
        "pricing_bundle_id": event.pricing_bundle_id,
    }


async def write_usage_events(session: Session, events: Sequence[UsageEvent]) -> None:
    """Insert a batch of usage events in one statement (the caller commits)."""
    if events:
        await queries.insert_events(session, [_row_values(e) for e in events])


def _row_usage(row: UsageEventRow) -> Usage:
    return Usage(
        input_tokens=row.input_tokens,
        cached_input_tokens=row.cached_input_tokens,
        output_tokens=row.output_tokens,
        total_tokens=row.total_tokens,
        bytes_in=row.bytes_in,
        bytes_out=row.bytes_out,
        duration_ms=row.duration_ms,
    )


async def usage_event_info(
    session: Session, customer_id: uuid.UUID, event_id: uuid.UUID
) -> dict[str, Any] | None:
    """The ``usage_event`` of a request-log detail, or ``None`` if there is none."""
    row = await queries.event(session, customer_id, event_id)
    if row is None:
        return None
    return {
        "customer_charge": format_charge(_from_units(row.charge_pico)),
        "usage_metrics": _row_usage(row).metrics(),
        "pricing_bundle_id": row.pricing_bundle_id,
    }


# -- cycles ------------------------------------------------------------------------


def cycle_bounds(cycle_start: date | None, today: date) -> tuple[date, date]:
    """The cycle's first day and the first day after it (a calendar month, UTC).

    Raises:
        Unprocessable: ``cycle_start`` is not the first day of a month.
    """
    if cycle_start is None:
        start = today.replace(day=1)
    elif cycle_start.day != 1:
        raise Unprocessable(
            ("query", "cycle_start"),
            "cycles are calendar months (UTC): give the first day of a month, e.g. "
            f"{cycle_start.replace(day=1).isoformat()}",
        )
    else:
        start = cycle_start
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start, following


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def cycle_usage(
    session: Session,
    catalog: Catalog,
    customer_id: uuid.UUID,
    cycle_start: date | None,
    now: datetime,
) -> CycleUsageResponse:
    """The customer's usage and cost in one cycle, per service and channel.

    ``days_elapsed`` counts the days of the cycle up to and including today (0 before
    it starts, every day once it is over); ``projected_total_charge`` extrapolates the
    total flat over the cycle's days.

    Raises:
        Unprocessable: ``cycle_start`` is not the first day of a month.
        Conflict: The cycle's charges are in several currencies (no single total).
    """
    today = now.astimezone(UTC).date()
    start, following = cycle_bounds(cycle_start, today)
    days_total = (following - start).days
    if today < start:
        days_elapsed = 0
    elif today >= following:
        days_elapsed = days_total
    else:
        days_elapsed = (today - start).days + 1
    metered_fields = (*_TOKEN_FIELDS, "bytes_in", "bytes_out")
    result = await queries.cycle_groups(
        session, customer_id, _midnight(start), _midnight(following), metered_fields
    )
    services: list[tuple[Decimal, str, ServiceUsagePublic]] = []
    currencies: set[str] = set()
    total = Decimal(0)
    for service_id, channel, currency, count, ok, units, duration, *metered in result:
        currencies.add(currency)
        charge = _from_units(int(units or 0))
        total += charge
        metrics: dict[str, float] = {
            name: int(value)
            for name, value in zip(metered_fields, metered, strict=True)
            if value is not None
        }
        metrics["duration_seconds"] = int(duration or 0) / 1000
        service = catalog.service(service_id)
        name = service.name if service is not None else ""
        entry = ServiceUsagePublic(
            service_id=service_id,
            service_name=name,
            request_count=int(count),
            success_count=int(ok or 0),
            error_count=int(count) - int(ok or 0),
            customer_charge=format_charge(charge),
            channel=channel,
            usage_metrics=metrics,
        )
        services.append((charge, f"{name}\x00{channel}", entry))
    if len(currencies) > 1:
        raise Conflict(
            f"this cycle's charges are in several currencies ({', '.join(sorted(currencies))}) "
            "and have no single total"
        )
    services.sort(key=lambda item: (-item[0], item[1]))
    projected = total
    if 0 < days_elapsed < days_total:
        projected = total * days_total / days_elapsed
    zero = format_charge(Decimal(0))
    return CycleUsageResponse(
        cycle_start=start,
        cycle_end=following - timedelta(days=1),
        as_of=now,
        days_elapsed=days_elapsed,
        days_total=days_total,
        currency=currencies.pop() if currencies else DEFAULT_CURRENCY,
        services_charge=format_charge(total),
        meters_charge=zero,
        total_charge=format_charge(total),
        projected_total_charge=format_charge(projected),
        has_active_plan=False,
        services=[entry for _, _, entry in services],
        meters=[],
        wallet_balance=None,
        balance_after_usage=None,
    )

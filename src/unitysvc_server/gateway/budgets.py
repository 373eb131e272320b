"""The budget gate: refuses upstream calls once a budget's cap is reached, counts spend.

Before each upstream call (after the address resolved to a service, before anything is
sent) :meth:`BudgetGate.admit` matches the customer's budgets against the call — its
service, the group it was addressed through (``g/<name>``), the API key it came with —
and reads what they have counted this cycle. A budget already at or past its cap answers
**402** naming the budget; one at or past its alert threshold adds
``x-unitysvc-budget-warning`` to the response. When the call's usage is metered (the body
ended: a buffered answer's, or a stream's last event), its charge is added to every
matched budget in one atomic statement (:func:`~unitysvc_server.domain.budget_spend.record_spend`)
*before* the response's end reaches the caller, so the caller's next call is judged on it.

Concurrency (docs/decisions.md, "Budgets and spend caps"): a call admitted while a budget
is under its cap may overshoot it by its own cost (calls in flight together all do); no
call is admitted once the counter reached the cap, on any worker or node, because the
counter lives in the shared database and is read at every admission.

Customers without budgets cost nothing here: the (empty) list of budgets is cached per
customer and dropped through the invalidation bus when a budget changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date
from decimal import Decimal

from unitysvc_server.catalog.model import CatalogService
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.budget_spend import record_spend, spend_now
from unitysvc_server.domain.budgets import BudgetRule, current_cycle, from_units, load_rules
from unitysvc_server.domain.sessions import Sessions
from unitysvc_server.domain.usage import DEFAULT_CURRENCY, UsageEvent, format_charge
from unitysvc_server.gateway.contextcache import TTLCache
from unitysvc_server.gateway.errors import GatewayError
from unitysvc_server.gateway.pipeline import GatewayRequest, GatewayResponse, ResponseBody
from unitysvc_server.invalidation import Invalidation

__all__ = ["WARNING_HEADER", "Admission", "BudgetGate"]

logger = logging.getLogger("unitysvc_server.gateway")

#: The response header naming budgets at or past their alert threshold.
WARNING_HEADER = b"x-unitysvc-budget-warning"


def _money(units: int) -> str:
    return format_charge(from_units(units))


def _exhausted(rule: BudgetRule, spent: int, cycle_start: date) -> GatewayError:
    return GatewayError(
        402,
        f"budget {rule.name!r} ({rule.scope_text()}) is exhausted: spent {_money(spent)} of its "
        f"{_money(rule.cap_units)} {rule.currency} cap this cycle (from {cycle_start}); raise "
        "the cap (`usvc budgets update`) or wait for the next cycle",
        error_type="budget_exhausted",
        extra={
            "budget": {
                "id": str(rule.id),
                "name": rule.name,
                "scope": rule.scope,
                "target": str(rule.service_id or rule.group_name or rule.key_id or "") or None,
                "cap": _money(rule.cap_units),
                "spent": _money(spent),
                "currency": rule.currency,
                "cycle_start": cycle_start.isoformat(),
            }
        },
    )


class Admission:
    """One admitted upstream call and the budgets it counts against."""

    __slots__ = ("_gate", "_rules", "_cycle_start", "warnings", "_units", "_settled")

    def __init__(
        self,
        gate: BudgetGate,
        rules: Sequence[BudgetRule],
        cycle_start: date,
        warnings: Sequence[str],
    ) -> None:
        self._gate = gate
        self._rules = tuple(rules)
        self._cycle_start = cycle_start
        self.warnings = tuple(warnings)
        self._units = 0
        self._settled = False

    def observe(self, event: UsageEvent) -> None:
        """Note the call's metered charge (the metering's event callback)."""
        self._units = int(event.charge.scaleb(12).to_integral_value())

    async def settle(self) -> None:
        """Add the noted charge to the matched budgets (once; nothing for a free call)."""
        if self._settled:
            return
        self._settled = True
        if self._units > 0:
            await self._gate.record(self._rules, self._cycle_start, self._units)

    def track(self, response: GatewayResponse) -> GatewayResponse:
        """Add the warning header and count the charge before the body's end goes out."""
        if self.warnings:
            response.headers.append((WARNING_HEADER, "; ".join(self.warnings).encode()))
        sized = any(key == b"content-length" for key, _ in response.headers)
        response.body = _SettlingBody(response.body, self, hold_last=sized)
        return response


class _SettlingBody:
    """Passes a body on and settles its admission before the caller sees its end.

    A chunked body ends with its terminating chunk, sent only after this iterator ends;
    a sized one ends with its last byte, so that chunk is held back until settled.
    """

    __slots__ = ("_inner", "_admission", "_hold")

    def __init__(self, inner: ResponseBody, admission: Admission, *, hold_last: bool) -> None:
        self._inner = inner
        self._admission = admission
        self._hold = hold_last

    async def __aiter__(self) -> AsyncIterator[bytes]:
        held: bytes | None = None
        async for chunk in self._inner:
            if not self._hold:
                yield chunk
                continue
            if held is not None:
                yield held
            held = chunk
        await self._admission.settle()
        if held is not None:
            yield held

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            # A body read to its end and then closed is still counted (a free one: no-op).
            await self._admission.settle()


class BudgetGate:
    """Checks and counts the customers' budgets for the gateway.

    Args:
        sessionmaker: Database sessions (the shared store of every node).
        ttl: Seconds a customer's budget list is cached (the bus drops it sooner).
    """

    def __init__(self, sessionmaker: Sessions, ttl: float) -> None:
        self._sessionmaker = sessionmaker
        self._rules: TTLCache[uuid.UUID, tuple[BudgetRule, ...]] = TTLCache(ttl)
        self._pending: set[asyncio.Task[None]] = set()
        self.recorded = 0

    def apply(self, invalidation: Invalidation) -> None:
        """Drop cached budget lists (an invalidation bus listener)."""
        self._rules.apply(invalidation)

    async def rules(self, customer_id: uuid.UUID) -> tuple[BudgetRule, ...]:
        """The customer's budgets (cached)."""

        async def load() -> tuple[tuple[BudgetRule, ...], uuid.UUID]:
            return await load_rules(self._sessionmaker, customer_id), customer_id

        return await self._rules.get_or_load(customer_id, load) or ()

    async def admit(
        self, request: GatewayRequest, service: CatalogService, group: str | None = None
    ) -> Admission | None:
        """Admit an upstream call to ``service`` (addressed through ``group``) or refuse it.

        Returns:
            ``None`` when no budget applies, else the admission to settle.

        Raises:
            GatewayError: 402 — a matching budget has reached its cap this cycle.
        """
        rules = await self.rules(request.caller.customer_id)
        if not rules:
            return None
        currency = service.currency or DEFAULT_CURRENCY
        matched = [
            rule
            for rule in rules
            if rule.matches(service.id, group, request.caller.key_id, currency)
        ]
        if not matched:
            return None
        cycle_start, _ = current_cycle(utcnow())
        spent = await spend_now(self._sessionmaker, [rule.id for rule in matched], cycle_start)
        warnings: list[str] = []
        for rule in matched:
            used = spent.get(rule.id, 0)
            if used >= rule.cap_units:
                raise _exhausted(rule, used, cycle_start)
            if rule.alert_units is not None and used >= rule.alert_units:
                warnings.append(
                    f"budget={json.dumps(rule.name)} id={rule.id} spent={_money(used)} "
                    f"alert={_money(rule.alert_units)} cap={_money(rule.cap_units)} "
                    f"currency={rule.currency}"
                )
        return Admission(self, matched, cycle_start, warnings)

    async def record(self, rules: Sequence[BudgetRule], cycle_start: date, units: int) -> None:
        """Count ``units`` against ``rules`` in the cycle (one atomic statement).

        The write runs in a task of its own and is awaited through a shield: a caller
        hanging up cancels the response, and a transaction cut off between its statement
        and its commit would keep SQLite's write lock until the connection is collected.
        """
        task = asyncio.get_running_loop().create_task(self._record(rules, cycle_start, units))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        await asyncio.shield(task)

    async def drain(self) -> None:
        """Wait for the counting writes in flight (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _record(self, rules: Sequence[BudgetRule], cycle_start: date, units: int) -> None:
        try:
            await record_spend(self._sessionmaker, {rule.id: units for rule in rules}, cycle_start)
            self.recorded += 1
        except Exception:
            logger.exception(
                "could not count a charge of %s against budgets %s",
                Decimal(units).scaleb(-12),
                ", ".join(str(rule.id) for rule in rules),
            )

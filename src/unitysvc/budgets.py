"""Budgets: per-cycle spend caps on your gateway calls (``/v1/budgets``).

A unitysvc extension of the platform API (not in the official SDK). A budget caps the
charges of the calls in its scope over a billing cycle (a calendar month, UTC):
every call (``"all"``), one service, calls addressed to one group (``g/<name>``), or
calls made with one API key. Once a budget is spent, the gateway answers its calls with
402 (:class:`~unitysvc.exceptions.APIError`, ``error_type: "budget_exhausted"``) until
the next cycle or a higher cap; past the optional alert threshold, responses carry an
``x-unitysvc-budget-warning`` header.

Amounts are exact decimals: pass :class:`~decimal.Decimal`, ``int`` or a decimal string,
never a ``float``; they come back as decimal strings (read them with ``Decimal``).

Example::

    budget = client.budgets.create("monthly", cap="25", alert_threshold="20")
    print(budget.status.spent, budget.status.remaining)
    client.budgets.create("small-only", cap="5", scope="service", target="demo-small")
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Generic, TypeAlias, Unpack, get_args
from uuid import UUID

from unitysvc._core import NOT_GIVEN, Flow, NotGiven, RequestOptions, parse
from unitysvc._ops import Async, M, Sync, op
from unitysvc._resource import Resource, given, record_id
from unitysvc.exceptions import invalid_argument
from unitysvc.models import BudgetPublic, BudgetScopeEnum, BudgetsPublic, BudgetStatus

__all__ = ["SCOPES", "Amount", "AsyncBudgets", "Budgets", "check_amount"]

#: The scopes a budget can cap.
SCOPES: tuple[BudgetScopeEnum, ...] = get_args(BudgetScopeEnum)
#: An exact amount in the account currency.
Amount: TypeAlias = Decimal | int | str


def check_amount(field: str, value: object) -> str:
    """An amount as sent on the wire (a plain decimal string), checked locally.

    Raises:
        ValidationError: A float (inexact), not a number, not finite, or not above 0.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise invalid_argument(
            field,
            value,
            "an amount is a Decimal, an int or a decimal string (floats are inexact)",
            "e.g. Decimal('25') or '12.50'",
        )
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise invalid_argument(field, value, "not a decimal amount", "e.g. '12.50'") from None
    if not amount.is_finite() or amount <= 0:
        raise invalid_argument(field, value, "an amount must be greater than 0")
    return format(amount, "f")


def _check_scope(scope: object, target: object) -> BudgetScopeEnum:
    for allowed in SCOPES:
        if scope == allowed:
            if allowed != "all" and not (isinstance(target, str) and target.strip()):
                raise invalid_argument(
                    "target",
                    target,
                    f"a {allowed!r} budget needs a target",
                    "a service id or name, a group name, or an API key or its hint",
                )
            return allowed
    raise invalid_argument("scope", scope, f"must be one of {', '.join(map(repr, SCOPES))}")


class _BudgetsOps(Resource[M], Generic[M]):
    @op
    def list(self, **options: Unpack[RequestOptions]) -> Flow[BudgetsPublic]:
        """Your budgets, oldest first, each with its status in the current cycle."""
        response = yield from self._call("GET", "/budgets/", options=options)
        return parse(BudgetsPublic, response)

    @op
    def get(
        self, budget_id: str | UUID | BudgetPublic, **options: Unpack[RequestOptions]
    ) -> Flow[BudgetPublic]:
        """One budget with its status.

        Raises:
            NotFoundError: No budget of yours has that id.
        """
        response = yield from self._call("GET", f"/budgets/{record_id(budget_id)}", options=options)
        return parse(BudgetPublic, response)

    @op
    def create(
        self,
        name: str,
        *,
        cap: Amount,
        alert_threshold: Amount | None = None,
        scope: BudgetScopeEnum = "all",
        target: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[BudgetPublic]:
        """Create a budget.

        Args:
            name: Your name for it (unique among your budgets).
            cap: The hard cap per cycle; calls are refused (402) once it is reached.
            alert_threshold: Spend from which responses carry the budget warning
                header; at most ``cap``.
            scope: ``"all"``, ``"service"``, ``"group"`` or ``"key"``.
            target: The service (id or name), group name, or API key (or its hint)
                of the scope; None for ``"all"``.

        Raises:
            ValidationError: A bad amount or scope (checked locally), or a target the
                platform does not know, a threshold above the cap (the message says
                which field and what to send).
            ConflictError: You already have a budget of that name.
        """
        body: dict[str, object] = {
            "name": name,
            "cap": check_amount("cap", cap),
            "scope": _check_scope(scope, target),
        }
        if target is not None:
            body["target"] = target
        if alert_threshold is not None:
            body["alert_threshold"] = check_amount("alert_threshold", alert_threshold)
        response = yield from self._call(
            "POST", "/budgets/", json=body, options=options, creates=True
        )
        return parse(BudgetPublic, response)

    @op
    def update(
        self,
        budget_id: str | UUID | BudgetPublic,
        *,
        name: str | NotGiven = NOT_GIVEN,
        cap: Amount | NotGiven = NOT_GIVEN,
        alert_threshold: Amount | None | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Flow[BudgetPublic]:
        """Change a budget's name, cap or alert threshold (the scope stays).

        Args:
            budget_id: The budget (or its id).
            name: A new name.
            cap: A new cap.
            alert_threshold: A new threshold; None removes it.

        Raises:
            NotFoundError: No budget of yours has that id.
            ValidationError: A bad amount, or a threshold above the cap.
        """
        body = given(
            name=name,
            cap=cap if isinstance(cap, NotGiven) else check_amount("cap", cap),
            alert_threshold=(
                alert_threshold
                if alert_threshold is None or isinstance(alert_threshold, NotGiven)
                else check_amount("alert_threshold", alert_threshold)
            ),
        )
        response = yield from self._call(
            "PATCH", f"/budgets/{record_id(budget_id)}", json=body, options=options
        )
        return parse(BudgetPublic, response)

    @op
    def delete(
        self, budget_id: str | UUID | BudgetPublic, **options: Unpack[RequestOptions]
    ) -> Flow[None]:
        """Delete a budget; its scope's calls are no longer capped by it.

        Raises:
            NotFoundError: No budget of yours has that id.
        """
        yield from self._call("DELETE", f"/budgets/{record_id(budget_id)}", options=options)

    @op
    def status(
        self, budget_id: str | UUID | BudgetPublic, **options: Unpack[RequestOptions]
    ) -> Flow[BudgetStatus]:
        """A budget's spend this cycle: ``spent``, ``remaining``, ``alerting``, ``exhausted``.

        Raises:
            NotFoundError: No budget of yours has that id.
        """
        response = yield from self._call(
            "GET", f"/budgets/{record_id(budget_id)}/status", options=options
        )
        return parse(BudgetStatus, response)


class Budgets(_BudgetsOps[Sync]):
    """Your spend caps per cycle (``/v1/budgets``, a unitysvc extension)."""


class AsyncBudgets(_BudgetsOps[Async]):
    """Async access to your spend caps per cycle (``/v1/budgets``, a unitysvc extension)."""

"""Usage and cost: what the customer's gateway calls used and cost (``/v1/usage``).

Example::

    cycle = client.usage.cycle()
    for service in cycle.services or []:
        print(service.service_name, service.request_count, service.customer_charge)
    print("total", cycle.total_charge, cycle.currency)

Charges are decimal strings (``"0.0000042"``): read them with ``decimal.Decimal``,
never ``float``, to keep every digit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, Unpack

from unitysvc._core import Flow, RequestOptions, parse
from unitysvc._ops import Async, M, Sync, op
from unitysvc._resource import Resource
from unitysvc.exceptions import invalid_argument
from unitysvc.models import CycleUsageResponse

__all__ = ["AsyncUsage", "Usage", "check_cycle_start"]


def check_cycle_start(cycle_start: date | str | None) -> date | None:
    """Validate a cycle's first day locally: a date (or ``YYYY-MM-DD``) on a month's 1st.

    Cycles are calendar months (UTC), so a cycle starts on the first day of a month.

    Raises:
        ValidationError: Not a date, or not the first day of its month (the message
            names that month's first day).
    """
    if cycle_start is None:
        return None
    day: date | None = None
    if isinstance(cycle_start, datetime):
        day = None  # a datetime is a point in time, not a cycle's day
    elif isinstance(cycle_start, date):
        day = cycle_start
    elif isinstance(cycle_start, str):
        try:
            day = date.fromisoformat(cycle_start)
        except ValueError:
            day = None
    if day is None:
        raise invalid_argument(
            "cycle_start", cycle_start, "a cycle starts on a date", "e.g. '2026-04-01'"
        )
    if day.day != 1:
        raise invalid_argument(
            "cycle_start",
            cycle_start if isinstance(cycle_start, str) else day.isoformat(),
            "a cycle is a calendar month and starts on its first day",
            f"use {day.replace(day=1).isoformat()!r}",
        )
    return day


class _UsageOps(Resource[M], Generic[M]):
    @op
    def cycle(
        self, cycle_start: date | str | None = None, **options: Unpack[RequestOptions]
    ) -> Flow[CycleUsageResponse]:
        """Usage and cost of one billing cycle (a calendar month, UTC), to date.

        Args:
            cycle_start: The cycle's first day (a ``date`` or ``"YYYY-MM-DD"`` on the
                1st of a month); None for the current cycle.

        Returns:
            The cycle's bounds, days elapsed, the charge per service and channel
            (requests, successes, errors, summed ``usage_metrics``), the total and
            a projection to the cycle's end. Charges are decimal strings.

        Raises:
            ValidationError: ``cycle_start`` is not the first day of a month.
        """
        day = check_cycle_start(cycle_start)
        response = yield from self._call(
            "GET",
            "/usage/cycle",
            params={"cycle_start": day.isoformat() if day else None},
            options=options,
        )
        return parse(CycleUsageResponse, response)


class Usage(_UsageOps[Sync]):
    """The customer's usage and cost (``/v1/usage``)."""


class AsyncUsage(_UsageOps[Async]):
    """Async access to the customer's usage and cost (``/v1/usage``)."""

"""``usvc usage``: what your gateway calls used and cost in a billing cycle."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from unitysvc.cli._context import client
from unitysvc.cli._output import JsonFlag, emit, examples, info, stdout_console

if TYPE_CHECKING:
    from unitysvc.models import CycleUsageResponse

EPILOG = examples("usvc usage", "usvc usage --cycle 2026-04-01", "usvc usage --json")


def usage(
    cycle: Annotated[
        str | None,
        typer.Option(
            "--cycle",
            metavar="YYYY-MM-01",
            help="The cycle's first day (cycles are calendar months, UTC). "
            "Default: the current cycle.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a billing cycle's usage and cost: per service, requests, errors and charge.

    Charges are computed from the catalog's prices and the tokens (or bytes, or
    time) each upstream reported; failed calls are counted and cost nothing.
    """
    from unitysvc.usage import check_cycle_start

    try:
        start = check_cycle_start(cycle)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cycle") from None
    sdk = client()
    found = sdk.usage.cycle(start)
    if as_json:
        emit(found, as_json)
        return
    render_cycle(found)
    if start is None or start == found.cycle_start:
        _render_budgets(sdk)


def _render_budgets(sdk: Any) -> None:
    """The budgets' status this cycle, under the usage (none: nothing printed)."""
    from unitysvc.cli.budgets import render_budgets
    from unitysvc.exceptions import NotFoundError

    try:
        budgets = sdk.budgets.list()
    except NotFoundError:
        return  # a platform without budgets (they are a unitysvc extension)
    if budgets.count:
        stdout_console().print("Budgets this cycle:", markup=False)
        render_budgets(budgets)


def _tokens(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render_cycle(cycle: CycleUsageResponse) -> None:
    """Print a cycle as a table of its services with the totals in the footer."""
    from rich import box
    from rich.table import Table

    currency = cycle.currency
    console = stdout_console()
    console.print(
        f"Cycle {cycle.cycle_start} to {cycle.cycle_end} (day {cycle.days_elapsed} of "
        f"{cycle.days_total}), as of {cycle.as_of.astimezone():%Y-%m-%d %H:%M:%S}",
        markup=False,
    )
    services = cycle.services or []
    if not services:
        info("No metered calls in this cycle.")
        return
    requests = sum(s.request_count for s in services)
    errors = sum(s.error_count for s in services)
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_footer=True)
    table.add_column("Service", footer="Total")
    table.add_column("Channel")
    table.add_column("Requests", justify="right", footer=str(requests))
    table.add_column("Errors", justify="right", footer=str(errors))
    table.add_column("In tokens", justify="right")
    table.add_column("Out tokens", justify="right")
    table.add_column(f"Charge ({currency})", justify="right", footer=cycle.total_charge)
    for entry in services:
        metrics = entry.usage_metrics
        table.add_row(
            entry.service_name or str(entry.service_id),
            entry.channel or "-",
            str(entry.request_count),
            str(entry.error_count),
            _tokens(metrics.input_tokens if metrics else None),
            _tokens(metrics.output_tokens if metrics else None),
            entry.customer_charge,
        )
    console.print(table)
    if Decimal(cycle.projected_total_charge) != Decimal(cycle.total_charge):
        console.print(
            f"Projected to the cycle's end: {cycle.projected_total_charge} {currency}",
            markup=False,
        )

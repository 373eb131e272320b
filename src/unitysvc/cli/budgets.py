"""``usvc budgets``: your spend caps per billing cycle (a unitysvc extension)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from unitysvc.cli._context import client
from unitysvc.cli._output import JsonFlag, emit, examples, print_record, print_table

if TYPE_CHECKING:
    from unitysvc.models import BudgetPublic

app = typer.Typer(
    help="Your budgets: a hard cap per cycle (calendar month, UTC) on what calls cost — all "
    "of them, one service's, one group's or one key's — and an optional alert threshold. "
    "Past the cap the gateway answers 402.",
    no_args_is_help=True,
    epilog=examples(
        "usvc budgets create monthly --cap 25 --alert 20",
        "usvc budgets create small --cap 5 --scope service --target demo-small",
        "usvc budgets list",
    ),
)

Budget = Annotated[
    str, typer.Argument(help="The budget's id or name.", metavar="BUDGET", show_default=False)
]


def _find(budget: str) -> BudgetPublic:
    """The budget with this id, or else this name."""
    budgets = client().budgets
    try:
        return budgets.get(str(uuid.UUID(budget)))
    except ValueError:
        pass
    for found in budgets.list():
        if found.name == budget:
            return found
    raise typer.BadParameter(
        f"you have no budget named {budget!r} (`usvc budgets list` shows yours)",
        param_hint="BUDGET",
    )


def _state(budget: Any) -> str:
    status = budget.status
    if status.exhausted:
        return "EXHAUSTED"
    return "alerting" if status.alerting else "ok"


def _scope(budget: Any) -> str:
    if budget.scope == "all":
        return "all"
    return f"{budget.scope} {budget.target_name or budget.target or '?'}"


def render_budgets(budgets: Any) -> None:
    """Print budgets as a table: scope, cap, threshold, spent, remaining, state."""
    print_table(
        ["Name", "Scope", "Cap", "Alert at", "Spent", "Remaining", "State", "Id"],
        [
            [
                b.name,
                _scope(b),
                f"{b.cap} {b.currency}",
                b.alert_threshold or "-",
                b.status.spent,
                b.status.remaining,
                _state(b),
                str(b.id),
            ]
            for b in budgets
        ],
        empty="No budgets (`usvc budgets create NAME --cap AMOUNT` sets one).",
    )


def _render_one(budget: Any) -> None:
    status = budget.status
    print_record(
        {
            "name": budget.name,
            "id": str(budget.id),
            "scope": _scope(budget),
            "cap": f"{budget.cap} {budget.currency}",
            "alert_threshold": budget.alert_threshold or "-",
            "cycle": f"{status.cycle_start} to {status.cycle_end}",
            "spent": status.spent,
            "remaining": status.remaining,
            "state": _state(budget),
        }
    )


@app.command("list", epilog=examples("usvc budgets list", "usvc budgets list --json"))
def list_budgets(as_json: JsonFlag = False) -> None:
    """List your budgets with what each has spent this cycle."""
    emit(client().budgets.list().data, as_json, render_budgets)


@app.command("show", epilog=examples("usvc budgets show monthly", "usvc budgets show ID --json"))
def show_budget(budget: Budget, as_json: JsonFlag = False) -> None:
    """Show one budget and its status this cycle."""
    emit(_find(budget), as_json, _render_one)


Cap = Annotated[
    str,
    typer.Option("--cap", help="The hard cap per cycle, e.g. 25 or 12.50.", show_default=False),
]


@app.command(
    "create",
    epilog=examples(
        "usvc budgets create monthly --cap 25 --alert 20",
        "usvc budgets create small --cap 5 --scope service --target demo-small",
        "usvc budgets create llm --cap 10 --scope group --target llm",
        "usvc budgets create ci-key --cap 1 --scope key --target svcpass_abcd",
    ),
)
def create_budget(
    name: Annotated[
        str, typer.Argument(help="Your name for the budget.", metavar="NAME", show_default=False)
    ],
    cap: Cap,
    alert: Annotated[
        str | None,
        typer.Option("--alert", help="Alert threshold: responses carry a warning header past it."),
    ] = None,
    scope: Annotated[
        str, typer.Option("--scope", help="all, service, group or key.", show_default=True)
    ] = "all",
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="The service (id or name), group name, or API key (or its hint) of the scope.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a budget."""
    from unitysvc.budgets import SCOPES

    chosen = next((s for s in SCOPES if s == scope), None)
    if chosen is None:
        raise typer.BadParameter(
            f"{scope!r} is not a scope: use {', '.join(SCOPES)}", param_hint="--scope"
        )
    done = client().budgets.create(
        name, cap=cap, alert_threshold=alert, scope=chosen, target=target
    )
    emit(done, as_json, _render_one, done=f"Created budget {done.name}")


@app.command(
    "update",
    epilog=examples(
        "usvc budgets update monthly --cap 50",
        "usvc budgets update monthly --alert 40",
        "usvc budgets update monthly --no-alert",
    ),
)
def update_budget(
    budget: Budget,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    cap: Annotated[str | None, typer.Option("--cap", help="A new cap.")] = None,
    alert: Annotated[str | None, typer.Option("--alert", help="A new alert threshold.")] = None,
    no_alert: Annotated[
        bool, typer.Option("--no-alert", help="Remove the alert threshold.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change a budget's name, cap or alert threshold (the scope stays)."""
    from unitysvc import NOT_GIVEN

    if alert is not None and no_alert:
        raise typer.BadParameter("give --alert or --no-alert, not both", param_hint="--no-alert")
    if name is None and cap is None and alert is None and not no_alert:
        raise typer.BadParameter("nothing to change: give --name, --cap, --alert or --no-alert")
    found = _find(budget)
    done = client().budgets.update(
        found,
        name=NOT_GIVEN if name is None else name,
        cap=NOT_GIVEN if cap is None else cap,
        alert_threshold=None if no_alert else (NOT_GIVEN if alert is None else alert),
    )
    emit(done, as_json, _render_one, done=f"Updated budget {done.name}")


@app.command("delete", epilog=examples("usvc budgets delete monthly"))
def delete_budget(budget: Budget, as_json: JsonFlag = False) -> None:
    """Delete a budget (its calls are no longer capped by it)."""
    found = _find(budget)
    client().budgets.delete(found)
    emit({"deleted": str(found.id), "name": found.name}, as_json, done=f"Deleted {found.name}")

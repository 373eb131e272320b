"""``usvc aliases``: your movable gateway names (a/<name>)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from unitysvc.cli import _input
from unitysvc.cli._context import client
from unitysvc.cli._output import (
    JsonFlag,
    emit,
    examples,
    print_record,
    print_table,
    success,
)

app = typer.Typer(
    help="Aliases: stable names (a/<name>) that point at a gateway path; switch them atomically.",
    no_args_is_help=True,
    epilog=examples(
        "usvc aliases create fast g/llm --override model=demo-small", "usvc aliases switch fast"
    ),
)

AliasId = Annotated[str, typer.Argument(help="Alias UUID.")]
RoutingKey = Annotated[
    list[str] | None,
    typer.Option(
        "--routing-key",
        "-k",
        metavar="K=V",
        help="Match requests carrying this routing key, e.g. model=fast (repeatable).",
    ),
]
Override = Annotated[
    list[str] | None,
    typer.Option(
        "--override",
        metavar="K=V",
        help="Rewrite the routing key sent on, e.g. model=demo-small (repeatable).",
    ),
]
Description = Annotated[str | None, typer.Option("--description", help="Description.")]

_FIELDS = [
    "id",
    "name",
    "target_path",
    "request_routing_key",
    "routing_key_override",
    "is_routing",
    "description",
    "created_at",
    "updated_at",
    "deactivated_at",
]


def _render(alias: Any) -> None:
    print_record(alias, fields=_FIELDS)


@app.command(
    "list", epilog=examples("usvc aliases list", "usvc aliases list --name fast --all --json")
)
def list_aliases(
    name: Annotated[str | None, typer.Option("--name", help="Only aliases of this name.")] = None,
    include_deactivated: Annotated[
        bool, typer.Option("--all", help="Include deactivated aliases.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List your aliases."""
    rows = list(client().aliases.iter(name=name, include_deactivated=include_deactivated))

    def render(items: Any) -> None:
        print_table(
            ["Name", "Target", "Routing key", "Routing", "ID"],
            [[a.name, a.target_path, a.request_routing_key, a.is_routing, a.id] for a in items],
            empty="No aliases.",
        )

    emit(rows, as_json, render)


@app.command("show", epilog=examples("usvc aliases show <alias-uuid> --json"))
def show_alias(alias_id: AliasId, as_json: JsonFlag = False) -> None:
    """Show one alias."""
    emit(client().aliases.get(alias_id), as_json, _render)


@app.command(
    "create",
    epilog=examples(
        "usvc aliases create fast g/llm --override model=demo-small",
        "usvc aliases create fast p/<service-uuid> --routing-key model=fast --no-routing",
    ),
)
def create_alias(
    name: Annotated[str, typer.Argument(help="Alias name (lowercase, digits, - and _).")],
    target_path: Annotated[str, typer.Argument(help="Gateway path it points at, e.g. g/llm.")],
    routing_key: RoutingKey = None,
    override: Override = None,
    description: Description = None,
    routing: Annotated[
        bool,
        typer.Option(
            "--routing/--no-routing",
            help="Make it the routing alias of its name now (default) or keep it standby.",
        ),
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Create an alias a/<name> pointing at a gateway path."""
    body: dict[str, Any] = {"name": name, "target_path": target_path, "is_routing": routing}
    for key, value in (
        ("request_routing_key", _input.pairs(routing_key, "--routing-key")),
        ("routing_key_override", _input.pairs(override, "--override")),
        ("description", description),
    ):
        if value is not None:
            body[key] = value
    alias = client().aliases.create(body)
    emit(alias, as_json, _render, done=f"Created alias a/{alias.name} → {alias.target_path}")


@app.command(
    "update",
    epilog=examples(
        "usvc aliases update <alias-uuid> --target g/llm",
        "usvc aliases update <alias-uuid> --override model=demo-large",
    ),
)
def update_alias(
    alias_id: AliasId,
    target_path: Annotated[
        str | None, typer.Option("--target", help="New gateway path to point at.")
    ] = None,
    routing_key: RoutingKey = None,
    override: Override = None,
    description: Description = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an alias's target, routing key, override or description."""
    body = {
        key: value
        for key, value in (
            ("target_path", target_path),
            ("request_routing_key", _input.pairs(routing_key, "--routing-key")),
            ("routing_key_override", _input.pairs(override, "--override")),
            ("description", description),
        )
        if value is not None
    }
    if not body:
        raise typer.BadParameter(
            "nothing to change: give --target, --routing-key, --override or --description"
        )
    alias = client().aliases.update(alias_id, body)
    emit(alias, as_json, _render, done=f"Updated alias a/{alias.name}")


@app.command(
    "switch",
    epilog=examples(
        "usvc aliases switch fast                 # cycle routing to the next row of 'fast'",
        "usvc aliases switch fast --target g/backup",
        "usvc aliases switch <alias-uuid> --off",
    ),
)
def switch_alias(
    identifier: Annotated[
        str, typer.Argument(help="Alias UUID, a UUID prefix (8+ hex digits) or the alias name.")
    ],
    target: Annotated[
        str | None,
        typer.Option("--target", help="With a name: the row whose target contains this."),
    ] = None,
    routing_key: Annotated[
        str | None,
        typer.Option("--routing-key", help="With a name: the row whose routing key contains this."),
    ] = None,
    off: Annotated[
        bool, typer.Option("--off", help="Turn the row off without promoting another.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Move routing to an alias row, demoting its sibling atomically."""
    result = client().aliases.switch(identifier, target=target, routing_key=routing_key, on=not off)
    alias = result.alias
    state = "routing" if alias.is_routing else "off"
    demoted = f" (demoted {result.demoted_alias_id})" if result.demoted_alias_id else ""
    emit(result, as_json, done=f"a/{alias.name} → {alias.target_path} is {state}{demoted}")


@app.command("delete", epilog=examples("usvc aliases delete <alias-uuid> --yes"))
def delete_alias(
    alias_id: AliasId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete (deactivate) an alias."""
    _input.confirm(f"Delete alias {alias_id}?", yes)
    client().aliases.delete(alias_id)
    success(f"Deleted alias {alias_id}")

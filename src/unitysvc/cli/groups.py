"""``usvc groups``: service groups, and the collections you build from services."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from unitysvc.cli import _dispatch, _input
from unitysvc.cli._context import client
from unitysvc.cli._output import (
    JsonFlag,
    emit,
    examples,
    info,
    print_record,
    print_table,
    success,
)

app = typer.Typer(
    help="Browse service groups; create and edit your own collections (g/<name>).",
    no_args_is_help=True,
    epilog=examples("usvc groups list", "usvc groups services llm", "usvc groups create my-llms"),
)

GroupId = Annotated[
    str, typer.Argument(help="Collection UUID (see `usvc groups list --owner own`).")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

_GROUP_FIELDS = [
    "id",
    "name",
    "display_name",
    "description",
    "owner_type",
    "group_type",
    "editable",
    "enabled",
    "member_count",
    "interface",
    "routing_policy",
    "details",
]


def _render_group(group: Any) -> None:
    print_record(group, fields=_GROUP_FIELDS)


@app.command(
    "list",
    epilog=examples(
        "usvc groups list", "usvc groups list --owner own --json", "usvc groups list --name llm"
    ),
)
def list_groups(
    owner: Annotated[
        str,
        typer.Option("--owner", help="all (platform groups and your collections), system or own."),
    ] = "all",
    name: Annotated[
        str | None, typer.Option("--name", help="Only groups whose name contains this.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the service groups and collections you can see."""
    if owner not in {"all", "system", "own"}:
        raise typer.BadParameter("must be all, system or own", param_hint="--owner")
    page = client().groups.list(owner=owner, name=name)

    def render(rows: Any) -> None:
        print_table(
            ["Name", "Display name", "Owner", "Type", "Members", "ID"],
            [
                [g.name, g.display_name, g.owner_type, g.group_type, g.member_count, g.id]
                for g in rows
            ],
            empty="No groups.",
        )

    emit(page.data, as_json, render)


@app.command(
    "show", epilog=examples("usvc groups show llm", "usvc groups show <collection-uuid> --json")
)
def show_group(
    name: Annotated[str, typer.Argument(help="Group name, or a collection's UUID.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one group: its interface, routing policy and member count."""
    emit(client().groups.get(name), as_json, _render_group)


@app.command(
    "services",
    epilog=examples(
        "usvc groups services llm",
        "usvc groups services all_services --search echo --json",
        "usvc groups services all_services --all",
    ),
)
def group_services(
    name: Annotated[str, typer.Argument(help="Group name.")],
    search: Annotated[
        str | None,
        typer.Option("--search", "-s", help="Case-insensitive match on name or provider."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="Services per page.")] = 50,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Continue from a previous page's cursor.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Walk every page.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the services of a group, newest first."""
    groups = client().groups
    next_cursor: str | None = None
    if every:
        rows = list(groups.iter_services(name, search=search, page_size=limit))
    else:
        page = groups.services(name, cursor=cursor, limit=limit, search=search)
        rows = page.data
        next_cursor = page.next_cursor if page.has_more else None

    def render(items: Any) -> None:
        print_table(
            ["ID", "Name", "Display name", "Type"],
            [[s.id, s.name, s.display_name, s.service_type] for s in items],
            empty="No services.",
        )

    emit(rows, as_json, render)
    if next_cursor:
        info(f"More services: usvc groups services {name} --cursor {next_cursor}")


@app.command(
    "create",
    epilog=examples(
        "usvc groups create my-llms --display-name 'My LLMs'",
        "usvc groups create my-llms --json",
    ),
)
def create_group(
    name: Annotated[
        str, typer.Argument(help="Slug (lowercase letters, digits, - and _); reach it at g/<name>.")
    ],
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Display name.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="Description.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a collection of your own (dispatchable at g/<name>)."""
    group = client().groups.create(name=name, display_name=display_name, description=description)
    emit(group, as_json, _render_group, done=f"Created collection {group.name} ({group.id})")


@app.command(
    "update",
    epilog=examples(
        "usvc groups update <collection-uuid> --display-name 'Fast LLMs'",
        "usvc groups update <collection-uuid> --disable",
    ),
)
def update_group(
    group_id: GroupId,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="New display name.")
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="New description.")
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Turn routing to it on or off.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a collection's display name, description or enabled flag."""
    changes: dict[str, Any] = {
        key: value
        for key, value in (
            ("display_name", display_name),
            ("description", description),
            ("enabled", enabled),
        )
        if value is not None
    }
    if not changes:
        raise typer.BadParameter(
            "nothing to change: give --display-name, --description or --enable/--disable"
        )
    group = client().groups.update(group_id, **changes)
    emit(group, as_json, _render_group, done=f"Updated collection {group.name}")


@app.command("delete", epilog=examples("usvc groups delete <collection-uuid> --yes"))
def delete_group(group_id: GroupId, yes: Yes = False) -> None:
    """Delete one of your collections."""
    _input.confirm(f"Delete collection {group_id}?", yes)
    client().groups.delete(group_id)
    success(f"Deleted collection {group_id}")


@app.command("members", epilog=examples("usvc groups members <collection-uuid> --json"))
def list_members(group_id: GroupId, as_json: JsonFlag = False) -> None:
    """List the services in a collection."""
    members = client().groups.members(group_id)

    def render(rows: Any) -> None:
        print_table(
            ["Service", "Routing key", "Order", "Member ID"],
            [[m.service_id, m.routing_key, m.sort_order, m.id] for m in rows],
            empty="No members.",
        )

    emit(members, as_json, render)


@app.command(
    "add-member",
    epilog=examples(
        "usvc groups add-member <collection-uuid> <service-uuid>",
        "usvc groups add-member <collection-uuid> <service-uuid> --routing-key model=fast",
    ),
)
def add_member(
    group_id: GroupId,
    service_id: Annotated[str, typer.Argument(help="Service UUID.")],
    routing_key: Annotated[
        list[str] | None,
        typer.Option(
            "--routing-key",
            "-k",
            metavar="K=V",
            help="Expose the member under this routing key, e.g. model=fast (repeatable).",
        ),
    ] = None,
    sort_order: Annotated[int, typer.Option("--sort-order", help="Position among members.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Add a service to a collection."""
    member = client().groups.add_member(
        group_id,
        service_id=service_id,
        routing_key=_input.pairs(routing_key, "--routing-key"),
        sort_order=sort_order,
    )
    emit(member, as_json, done=f"Added service {member.service_id} to collection {group_id}")


@app.command(
    "remove-member", epilog=examples("usvc groups remove-member <collection-uuid> <service-uuid>")
)
def remove_member(
    group_id: GroupId,
    service_id: Annotated[str, typer.Argument(help="Service UUID.")],
    yes: Yes = False,
) -> None:
    """Remove a service from a collection."""
    _input.confirm(f"Remove service {service_id} from collection {group_id}?", yes)
    client().groups.remove_member(group_id, service_id)
    success(f"Removed service {service_id} from collection {group_id}")


@app.command(
    "dispatch",
    epilog=examples(
        "usvc groups dispatch llm --path chat/completions --data-file body.json",
        "usvc groups dispatch llm --path chat/completions --data-file body.json --stream",
    ),
)
def dispatch_group(
    name: Annotated[str, typer.Argument(help="Group name.")],
    path: Annotated[
        str, typer.Option("--path", "-p", help="Sub-path after the group, e.g. chat/completions.")
    ] = "",
    body_data: _dispatch.BodyData = None,
    body_file: _dispatch.BodyFile = None,
    method: _dispatch.Method = None,
    header: _dispatch.Headers = None,
    timeout: _dispatch.RequestTimeout = None,
    stream: _dispatch.Stream = False,
    include: _dispatch.Include = False,
    as_json: _dispatch.ResponseJson = False,
    cache: _dispatch.Cache = None,
    renew: _dispatch.Renew = False,
    log: _dispatch.Log = False,
    complete: _dispatch.Complete = False,
    failover: _dispatch.Failover = None,
    tee: _dispatch.Tee = None,
) -> None:
    """Send a request through a group; its routing policy picks the service.

    The status goes to stderr and the body to stdout. Exits 1 on a 4xx/5xx answer.
    """
    request = _dispatch.build_request(body_data, body_file, method, header, timeout)
    wrappers = _dispatch.build_wrappers(cache, renew, log, complete, failover, tee)
    groups = client().groups
    if wrappers:
        target = wrappers.apply(groups.get(name))
        _dispatch.run_wrapped(
            target, path, request, stream=stream, include=include, as_json=as_json
        )
        return
    _dispatch.run(
        request,
        stream=stream,
        include=include,
        as_json=as_json,
        dispatch=lambda **kw: groups.dispatch(name, path=path, **kw),
        open_stream=lambda **kw: groups.stream(name, path=path, **kw),
    )

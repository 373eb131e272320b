"""``usvc recurrent-requests``: gateway calls the platform makes for you on a schedule."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from unitysvc.cli import _dispatch, _input
from unitysvc.cli._context import client
from unitysvc.cli._output import (
    JsonFlag,
    emit,
    examples,
    print_json,
    print_record,
    print_table,
    success,
)

app = typer.Typer(
    help="Recurrent requests: scheduled gateway calls (see also `usvc services schedule`).",
    no_args_is_help=True,
    epilog=examples(
        "usvc recurrent-requests list", "usvc recurrent-requests trigger <request-uuid>"
    ),
)

RequestId = Annotated[str, typer.Argument(help="Recurrent request UUID.")]
_SCHEDULE = "Schedule (one of)"
Interval = Annotated[
    int | None,
    typer.Option(
        "--interval", metavar="SECONDS", help="Run every N seconds.", rich_help_panel=_SCHEDULE
    ),
]
Cron = Annotated[
    str | None,
    typer.Option(
        "--cron",
        metavar="EXPR",
        help="Cron expression, e.g. '*/5 * * * *'.",
        rich_help_panel=_SCHEDULE,
    ),
]
Timezone = Annotated[
    str, typer.Option("--timezone", help="Timezone of --cron.", rich_help_panel=_SCHEDULE)
]
Recurrence = Annotated[
    str | None,
    typer.Option(
        "--recurrence",
        metavar="JSON",
        help='Full schedule, e.g. {"schedule_type": "interval", "interval_seconds": 60}.',
        rich_help_panel=_SCHEDULE,
    ),
]
Body = Annotated[
    str | None,
    typer.Option("--body", metavar="JSON|@FILE|-", help="JSON object sent on every run."),
]

_FIELDS = [
    "id",
    "name",
    "status",
    "http_method",
    "request_path",
    "schedule",
    "service_id",
    "enrollment_id",
    "body_template",
    "request_headers",
    "state",
    "created_at",
    "updated_at",
]


def render_recurrent(request: Any) -> None:
    """Print one recurrent request."""
    print_record(request, fields=_FIELDS)


def _schedule_text(schedule: dict[str, Any] | None) -> str | None:
    if not schedule:
        return None
    if schedule.get("schedule_type") == "interval":
        return f"every {schedule.get('interval_seconds')}s"
    if schedule.get("schedule_type") == "cron":
        return f"cron {schedule.get('cron_expression')} {schedule.get('timezone') or ''}".strip()
    return str(schedule)


@app.command(
    "list",
    epilog=examples(
        "usvc recurrent-requests list", "usvc recurrent-requests list --status active --json"
    ),
)
def list_recurrent(
    service_id: Annotated[
        str | None, typer.Option("--service-id", help="Only this service's.")
    ] = None,
    enrollment_id: Annotated[
        str | None, typer.Option("--enrollment-id", help="Only this enrollment's.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="draft, active, paused or cancelled.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List your recurrent requests."""
    rows = list(
        client().recurrent_requests.iter(
            service_id=service_id, enrollment_id=enrollment_id, status=status
        )
    )

    def render(items: Any) -> None:
        print_table(
            ["ID", "Name", "Status", "Schedule", "Method", "Path"],
            [
                [r.id, r.name, r.status, _schedule_text(r.schedule), r.http_method, r.request_path]
                for r in items
            ],
            empty="No recurrent requests.",
        )

    emit(rows, as_json, render)


@app.command("show", epilog=examples("usvc recurrent-requests show <request-uuid> --json"))
def show_recurrent(request_id: RequestId, as_json: JsonFlag = False) -> None:
    """Show one recurrent request, with its schedule and last run state."""
    emit(client().recurrent_requests.get(request_id), as_json, render_recurrent)


@app.command(
    "create",
    epilog=examples(
        "usvc recurrent-requests create http://127.0.0.1:8000/p/<service-uuid> --interval 60",
        "usvc recurrent-requests create <gateway-url> --body @ping.json --cron '0 * * * *'",
    ),
)
def create_recurrent(
    request_path: Annotated[str, typer.Argument(help="Gateway URL (or path) to call.")],
    method: Annotated[str, typer.Option("--method", "-X", help="HTTP method.")] = "POST",
    body: Body = None,
    header: _dispatch.Headers = None,
    name: Annotated[str | None, typer.Option("--name", help="A label.")] = None,
    service_id: Annotated[
        str | None, typer.Option("--service-id", help="The service it calls.")
    ] = None,
    enrollment_id: Annotated[
        str | None, typer.Option("--enrollment-id", help="The enrollment it uses.")
    ] = None,
    interval: Interval = None,
    cron: Cron = None,
    timezone: Timezone = "UTC",
    recurrence: Recurrence = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a recurrent request; with a schedule it is active, otherwise a draft."""
    schedule = _input.recurrence(recurrence, interval, cron, timezone)
    payload: dict[str, Any] = {"request_path": request_path, "http_method": method.upper()}
    for key, value in (
        ("body_template", _input.json_object(body, "--body")),
        ("request_headers", _input.headers(header)),
        ("name", name),
        ("service_id", service_id),
        ("enrollment_id", enrollment_id),
    ):
        if value is not None:
            payload[key] = value
    resource = client().recurrent_requests
    created = resource.create(payload)
    if schedule is not None:
        created = resource.update(created.id, {"schedule": schedule})
    emit(
        created,
        as_json,
        render_recurrent,
        done=f"Created recurrent request {created.id} ({created.status})",
    )


@app.command(
    "update",
    epilog=examples(
        "usvc recurrent-requests update <request-uuid> --interval 600",
        "usvc recurrent-requests update <request-uuid> --status paused",
    ),
)
def update_recurrent(
    request_id: RequestId,
    request_path: Annotated[str | None, typer.Option("--path", help="New gateway URL.")] = None,
    body: Body = None,
    header: _dispatch.Headers = None,
    name: Annotated[str | None, typer.Option("--name", help="New label.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="draft, active, paused or cancelled.")
    ] = None,
    interval: Interval = None,
    cron: Cron = None,
    timezone: Timezone = "UTC",
    recurrence: Recurrence = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a recurrent request; attaching a schedule activates a draft."""
    changes = {
        key: value
        for key, value in (
            ("request_path", request_path),
            ("body_template", _input.json_object(body, "--body")),
            ("request_headers", _input.headers(header)),
            ("name", name),
            ("status", status),
            ("schedule", _input.recurrence(recurrence, interval, cron, timezone)),
        )
        if value is not None
    }
    if not changes:
        raise typer.BadParameter(
            "nothing to change: give --path, --body, --header, --name, --status or a schedule"
        )
    updated = client().recurrent_requests.update(request_id, changes)
    emit(
        updated,
        as_json,
        render_recurrent,
        done=f"Updated recurrent request {updated.id} ({updated.status})",
    )


@app.command("trigger", epilog=examples("usvc recurrent-requests trigger <request-uuid>"))
def trigger_recurrent(request_id: RequestId) -> None:
    """Run a recurrent request now and print what the upstream answered (JSON)."""
    print_json(client().recurrent_requests.trigger(request_id))


@app.command("delete", epilog=examples("usvc recurrent-requests delete <request-uuid> --yes"))
def delete_recurrent(
    request_id: RequestId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a recurrent request and its schedule."""
    _input.confirm(f"Delete recurrent request {request_id}?", yes)
    client().recurrent_requests.delete(request_id)
    success(f"Deleted recurrent request {request_id}")

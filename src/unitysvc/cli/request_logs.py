"""``usvc request-logs``: the record of your gateway calls; ``tail -f`` follows it live."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from unitysvc.cli import _input
from unitysvc.cli._context import client
from unitysvc.cli._output import (
    JsonFlag,
    cell,
    emit,
    examples,
    info,
    jsonable,
    print_record,
    print_table,
    stdout_console,
    success,
)

if TYPE_CHECKING:
    from unitysvc.models import RequestLogListItem

app = typer.Typer(
    help="Request logs: turn logging on or off, list, show, and follow your gateway calls.",
    no_args_is_help=True,
    epilog=examples("usvc request-logs start", "usvc request-logs tail -f"),
)

_FILTERS = "Filters"
ServiceFilter = Annotated[
    str | None,
    typer.Option("--service-id", help="Only calls to this service.", rich_help_panel=_FILTERS),
]
PathFilter = Annotated[
    str | None,
    typer.Option(
        "--path", help="Only calls whose path starts with this.", rich_help_panel=_FILTERS
    ),
]

#: Polling of ``tail -f`` stays within these bounds whatever ``--interval`` says.
MIN_INTERVAL = 0.1
MAX_INTERVAL = 60.0
_PAGE = 200


def _render_status(status: Any) -> None:
    success(f"Request logging is {'on' if status.enabled else 'off'}")


@app.command(
    "start",
    epilog=examples("usvc request-logs start", "usvc request-logs start --complete"),
)
def start_logging(
    complete: Annotated[
        bool | None,
        typer.Option(
            "--complete/--truncated",
            help="Keep full bodies, or 8 KB previews. Default: keep the current mode.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Turn request logging on."""
    status = client().request_logs.start(
        truncate_long_message=None if complete is None else not complete
    )
    emit(status, as_json, _render_status)


@app.command("stop", epilog=examples("usvc request-logs stop"))
def stop_logging(as_json: JsonFlag = False) -> None:
    """Turn request logging off (stored rows stay readable)."""
    status = client().request_logs.stop()
    emit(status, as_json, _render_status)


def _row(item: RequestLogListItem) -> list[Any]:
    return [
        _timestamp(item),
        item.user_request_method,
        item.upstream_response_status_code,
        item.upstream_response_time_ms,
        item.user_request_path,
        item.error_type,
        item.log_id,
    ]


_COLUMNS = ["Time", "Method", "Status", "ms", "Path", "Error", "Log ID"]


@app.command(
    "list",
    epilog=examples(
        "usvc request-logs list",
        "usvc request-logs list --since 1h --status-min 500 --json",
        "usvc request-logs list --path g/llm --limit 20",
    ),
)
def list_logs(
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="Rows to show.")] = 50,
    skip: Annotated[int, typer.Option("--skip", min=0, help="Rows to skip.")] = 0,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="From this time: 15m, 2h, 1d ago, or ISO-8601. Default: the last 24 hours.",
            rich_help_panel=_FILTERS,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Up to this time (same forms).", rich_help_panel=_FILTERS),
    ] = None,
    service_id: ServiceFilter = None,
    path: PathFilter = None,
    status_min: Annotated[
        int | None,
        typer.Option(
            "--status-min", help="Upstream status at least this.", rich_help_panel=_FILTERS
        ),
    ] = None,
    status_max: Annotated[
        int | None,
        typer.Option(
            "--status-max", help="Upstream status at most this.", rich_help_panel=_FILTERS
        ),
    ] = None,
    error_source: Annotated[
        str | None,
        typer.Option("--error-source", help="gateway or upstream.", rich_help_panel=_FILTERS),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List logged calls (metadata only; `show` has the bodies)."""
    page = client().request_logs.list(
        skip=skip,
        limit=limit,
        service_id=_input.uuid_value(service_id, "--service-id"),
        status_min=status_min,
        status_max=status_max,
        start_time=_input.point_in_time(since, "--since"),
        end_time=_input.point_in_time(until, "--until"),
        user_request_path=path,
        error_source=error_source,
    )

    def render(items: Any) -> None:
        print_table(_COLUMNS, [_row(item) for item in items], empty="No logged calls.")
        if page.total_count > skip + len(items):
            info(f"{len(items)} of {page.total_count}; see more with --skip {skip + len(items)}")

    emit(page.items, as_json, render)


@app.command("show", epilog=examples("usvc request-logs show <log-id> --json"))
def show_log(
    log_id: Annotated[str, typer.Argument(help="Log ID.")], as_json: JsonFlag = False
) -> None:
    """Show one logged call with its (redacted) request and response."""
    emit(client().request_logs.get(log_id), as_json, print_record)


def _timestamp(item: RequestLogListItem) -> datetime:
    return datetime.fromisoformat(item.event_timestamp)


class _Printer:
    """Prints tail rows as aligned lines, or as JSON lines with ``--json``."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = stdout_console()

    def __call__(self, item: RequestLogListItem) -> None:
        if self.as_json:
            self.console.file.write(json.dumps(jsonable(item), ensure_ascii=False) + "\n")
            self.console.file.flush()
            return
        time_, method, status, ms, path, error, log_id = (cell(value) for value in _row(item))
        style = "red" if item.error_type or (item.upstream_response_status_code or 0) >= 400 else ""
        self.console.print(
            f"{time_}  {method:<6} {status:>3} {ms:>6}  {path}  {error}  {log_id}",
            style=style,
            markup=False,
            highlight=False,
        )


@app.command(
    "tail",
    epilog=examples(
        "usvc request-logs tail",
        "usvc request-logs tail -f",
        "usvc request-logs tail -f --json --max-rows 100 --timeout 60",
    ),
)
def tail_logs(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new calls as they are logged.")
    ] = False,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, max=200, help="Recent rows to show first.")
    ] = 10,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            help=f"Seconds between polls with -f ({MIN_INTERVAL:g} to {MAX_INTERVAL:g}).",
        ),
    ] = 1.0,
    max_rows: Annotated[
        int | None,
        typer.Option("--max-rows", min=1, help="Stop after printing this many rows."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0, help="Stop following after this many seconds."),
    ] = None,
    service_id: ServiceFilter = None,
    path: PathFilter = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per line.")
    ] = False,
) -> None:
    """Show the latest calls; with -f, follow new ones until Ctrl-C.

    Rows print oldest first. --max-rows and --timeout end the follow on their own,
    for scripts.
    """
    service = _input.uuid_value(service_id, "--service-id")
    logs = client().request_logs
    printer = _Printer(as_json)
    pause = min(max(interval, MIN_INTERVAL), MAX_INTERVAL)
    deadline = None if timeout is None else time.monotonic() + timeout
    seen: set[str] = set()
    printed = 0
    newest: datetime | None = None

    def emit_rows(rows: list[RequestLogListItem]) -> bool:
        """Print unseen rows oldest first; True once ``max_rows`` is reached."""
        nonlocal printed, newest
        for item in sorted(rows, key=_timestamp):
            if item.log_id in seen:
                continue
            seen.add(item.log_id)
            stamp = _timestamp(item)
            newest = stamp if newest is None or stamp > newest else newest
            printer(item)
            printed += 1
            if max_rows is not None and printed >= max_rows:
                return True
        return False

    try:
        recent = logs.list(limit=max(lines, 1), service_id=service, user_request_path=path).items
        # Everything fetched is "seen"; only the requested number is printed.
        latest = sorted(recent, key=_timestamp)[-lines:] if lines else []
        seen.update(item.log_id for item in recent)
        if recent:
            newest = max(_timestamp(item) for item in recent)
        for item in latest:
            seen.discard(item.log_id)
        if emit_rows(latest) or not follow:
            return
        while deadline is None or time.monotonic() < deadline:
            wait = pause if deadline is None else min(pause, max(deadline - time.monotonic(), 0))
            time.sleep(wait)
            fresh = list(
                logs.iter(
                    start_time=newest,
                    service_id=service,
                    user_request_path=path,
                    page_size=_PAGE,
                )
            )
            if emit_rows(fresh):
                return
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends: not an error.
        return

"""How ``usvc`` prints: Rich tables for people, ``--json`` for programs, one-line errors.

Results go to stdout; status lines, progress and errors go to stderr, so
``usvc … --json | jq`` always sees clean JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from uuid import UUID

import typer

if TYPE_CHECKING:
    from rich.console import Console

#: ``--json`` of read commands.
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON to stdout instead of a table.")
]

#: Consoles that are not terminals get a wide canvas so that tables never wrap ids.
_PIPE_WIDTH = 240


def stdout_console() -> Console:
    """A Rich console on the current stdout."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def stderr_console() -> Console:
    """A Rich console on the current stderr (status, progress, spinners)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def jsonable(value: Any) -> Any:
    """Convert SDK results (models, records, pages, lists) to JSON-ready data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "to_dict") and hasattr(value, "record"):
        return value.to_dict()
    if hasattr(value, "data") and hasattr(value, "next_cursor"):  # an SDK Page
        return [jsonable(item) for item in value.data]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def cell(value: Any) -> str:
    """One table cell, as a person reads it: ``-`` for missing values, ``yes``/``no``,
    local times, ``key: value, …`` for mappings and ``a, b`` for lists (``--json``
    keeps the exact data)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        # People read local time; --json keeps the server's ISO-8601 timestamps.
        local = value.astimezone() if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        parts = [f"{k}: {cell(v)}" for k, v in value.items() if v is not None]
        return ", ".join(parts) if parts else "-"
    if isinstance(value, list | tuple):
        inner = [cell(item) for item in value]
        if any(isinstance(item, Mapping) for item in value):
            return "; ".join(f"({part})" for part in inner) if inner else "-"
        return ", ".join(inner) if inner else "-"
    return str(value)


def block(value: Any, indent: int = 0) -> str:
    """A record field as a person reads it: a scalar as :func:`cell`; a mapping or a
    list of mappings as indented ``key: value`` lines (YAML-like)."""
    pad = "  " * indent
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping) and value:
        lines = []
        for key, item in value.items():
            if item is None:
                continue
            if _nested(item):
                lines.append(f"{pad}{key}:")
                lines.append(block(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {cell(item)}")
        return "\n".join(lines) or f"{pad}-"
    if isinstance(value, list | tuple) and any(isinstance(i, Mapping) for i in value):
        lines = []
        for item in value:
            body = block(item, indent + 1).splitlines() or [f"{pad}  -"]
            first = body[0].strip()
            lines.append(f"{pad}- {first}")
            lines.extend(body[1:])
        return "\n".join(lines)
    return pad + cell(value)


def _nested(value: Any) -> bool:
    if isinstance(value, Mapping):
        return bool(value)
    return isinstance(value, list | tuple) and any(isinstance(i, Mapping) for i in value)


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str,
    title: str | None = None,
) -> None:
    """Print rows as a table, or ``empty`` on stderr when there are none."""
    from rich import box
    from rich.table import Table

    table = Table(*columns, box=box.SIMPLE_HEAD, title=title, header_style="bold", pad_edge=False)
    count = 0
    for row in rows:
        table.add_row(*(cell(value) for value in row))
        count += 1
    if not count:
        info(empty)
        return
    stdout_console().print(table)


def print_record(value: Any, *, fields: Sequence[str] | None = None) -> None:
    """Print one record as ``field  value`` lines."""
    from rich import box
    from rich.table import Table

    data = jsonable(value)
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    # Known fields in a readable order, then anything else the server sent.
    ordered = [key for key in fields or [] if key in data]
    ordered += [key for key in data if key not in ordered]
    for key in ordered:
        table.add_row(key, block(data[key]))
    stdout_console().print(table)


def emit(
    value: Any,
    as_json: bool,
    render: Callable[[Any], None] | None = None,
    *,
    done: str | None = None,
) -> None:
    """``--json``: print ``value`` as JSON; otherwise ``render`` it for people.

    Args:
        value: The command's result.
        as_json: Whether ``--json`` was given.
        render: Prints ``value`` for people (nothing more when None).
        done: A ``✓`` confirmation shown before ``render`` (never with ``--json``,
            whose output is only the JSON).
    """
    if as_json:
        print_json(value)
        return
    if done is not None:
        success(done)
    if render is not None:
        render(value)


def info(message: str) -> None:
    """A dim note on stderr (empty results, hints)."""
    stderr_console().print(message, style="dim", markup=False, soft_wrap=True)


def success(message: str) -> None:
    """A ``✓`` confirmation on stderr."""
    stderr_console().print(f"[green]✓[/green] {_escape(message)}", soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    line = " ".join(message.split())  # one line, whatever the message held
    typer.secho("error: ", fg="red", bold=True, err=True, nl=False)
    typer.echo(line, err=True)
    raise typer.Exit(code)


def describe_error(exc: BaseException) -> str:
    """The one-line description of an SDK error (without the ``error:`` prefix).

    API errors read ``<status> <reason>: <detail> [request id <id>]``; errors raised
    before any request (no key, a bad value) read as their message.
    """
    from unitysvc.exceptions import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
    )

    if isinstance(exc, APIConnectionError) and exc.url and not isinstance(exc, APITimeoutError):
        tried = f", tried {exc.attempts} times" if exc.attempts > 1 else ""
        return (
            f"cannot reach the server at {exc.url} ({exc.reason}{tried}). Is it running? "
            "Start a local one with `usvc server start` (or `usvc demo`), or point "
            "--base-url / UNITYSVC_API_URL at yours (see `usvc env`)"
        )
    if isinstance(exc, AuthenticationError) and exc.response_body is None:
        return (
            "this command needs an API key: pass --api-key svcpass_… or set "
            "UNITYSVC_API_KEY (without a key only the catalog can be browsed)"
        )
    if not isinstance(exc, APIError):
        return str(exc) or type(exc).__name__
    text = f"{exc.status_code} {status_phrase(exc.status_code) or 'Error'}"
    if exc.summary:
        text += f": {exc.summary}"
    if isinstance(exc, AuthenticationError):
        text += " (check --api-key / UNITYSVC_API_KEY)"
    if exc.request_id:
        text += f" [request id {exc.request_id}]"
    return text


def status_phrase(status: int) -> str:
    """The reason phrase of an HTTP status (``""`` for a non-standard one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def write_body(content: bytes) -> None:
    """Write raw bytes to stdout (binary-safe when stdout has a buffer)."""
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    stream.flush()
    if buffer is not None:
        buffer.write(content)
        buffer.flush()
    else:
        stream.write(content.decode("utf-8", "replace"))
        stream.flush()


def stdout_is_terminal() -> bool:
    """Whether stdout is an interactive terminal."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def examples(*lines: str) -> str:
    """A command's ``Examples`` epilog (shown at the end of ``--help``)."""
    from rich.markup import escape

    return "[bold]Examples[/bold]\n" + "\n".join(f"  [dim]$[/dim] {escape(line)}" for line in lines)

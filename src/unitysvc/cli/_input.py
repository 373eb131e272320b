"""Parsing of command-line values: bodies, headers, ``key=value`` pairs, schedules, times.

Every parser raises :class:`typer.BadParameter` naming the flag and the fix, so a
malformed value is a usage error (exit 2) reported before any request is sent.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import typer

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _read_file(value: str, flag: str) -> bytes:
    """The bytes of the file an ``@file`` value names."""
    path = Path(value[1:])
    try:
        return path.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {path}: {exc.strerror or exc}", param_hint=flag
        ) from None


def _read_source(value: str, flag: str) -> str:
    """Text of ``@file``, ``-`` (stdin) or an inline value."""
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        return _read_file(value, flag).decode("utf-8")
    return value


def json_value(value: str | None, flag: str = "--json") -> Any:
    """Parse ``--json``: inline JSON, ``@file`` or ``-`` for stdin; None stays None."""
    if value is None:
        return None
    text = _read_source(value, flag)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "pass inline JSON, @file.json or - for stdin",
            param_hint=flag,
        ) from None


def json_object(value: str | None, flag: str) -> dict[str, Any] | None:
    """Like :func:`json_value`, but the value must be a JSON object."""
    parsed = json_value(value, flag)
    if parsed is not None and not isinstance(parsed, dict):
        raise typer.BadParameter(
            f"must be a JSON object, got {type(parsed).__name__}", param_hint=flag
        )
    return parsed


def raw_data(value: str | None, flag: str = "--data") -> bytes | None:
    """Parse ``--data``: ``@file`` (bytes as is), ``-`` for stdin, or the literal text."""
    if value is None:
        return None
    if value.startswith("@"):
        return _read_file(value, flag)
    if value == "-":
        return (
            sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        )
    return value.encode()


def headers(items: list[str] | None, flag: str = "--header") -> dict[str, str] | None:
    """Parse repeated ``'Name: value'`` headers."""
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise typer.BadParameter(f"expected 'Name: value', got {item!r}", param_hint=flag)
        out[name.strip()] = value.strip()
    return out


def pairs(items: list[str] | None, flag: str) -> dict[str, Any] | None:
    """Parse repeated ``key=value`` (a string) or ``key:=json`` (a JSON value) items.

    A single item that is itself a JSON object is accepted too
    (``--routing-key '{"model": "gpt-4"}'``).
    """
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        if item.lstrip().startswith("{"):
            parsed = json_object(item, flag)
            out.update(parsed or {})
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip(":").strip():
            raise typer.BadParameter(
                f"expected key=value (or key:=<json>), got {item!r}", param_hint=flag
            )
        if key.endswith(":"):
            out[key[:-1].strip()] = json_value(value, flag)
        else:
            out[key.strip()] = value
    return out


def recurrence(
    raw: str | None, interval: int | None, cron: str | None, timezone: str
) -> dict[str, Any] | None:
    """The schedule of a recurrent request from ``--recurrence``/``--interval``/``--cron``.

    Returns:
        None when none of the three is given.

    Raises:
        typer.BadParameter: More than one given, or a bad value.
    """
    given = [
        flag
        for flag, value in (("--recurrence", raw), ("--interval", interval), ("--cron", cron))
        if value is not None
    ]
    if len(given) > 1:
        raise typer.BadParameter(
            f"give only one of --recurrence, --interval, --cron (got {', '.join(given)})"
        )
    if raw is not None:
        parsed = json_object(raw, "--recurrence")
        if not parsed or "schedule_type" not in parsed:
            raise typer.BadParameter(
                "needs a schedule_type: 'interval' (interval_seconds) or 'cron' "
                "(cron_expression, timezone)",
                param_hint="--recurrence",
            )
        return parsed
    if interval is not None:
        if interval <= 0:
            raise typer.BadParameter(
                "must be a positive number of seconds", param_hint="--interval"
            )
        return {"schedule_type": "interval", "interval_seconds": interval}
    if cron is not None:
        if len(cron.split()) != 5:
            raise typer.BadParameter(
                f"expected five cron fields such as '*/5 * * * *', got {cron!r}",
                param_hint="--cron",
            )
        return {"schedule_type": "cron", "cron_expression": cron, "timezone": timezone}
    return None


def point_in_time(value: str | None, flag: str, *, now: datetime | None = None) -> datetime | None:
    """Parse ``--since``/``--until``: a duration ago (``15m``, ``2h``, ``1d``) or ISO-8601.

    Naive ISO timestamps are taken as UTC.
    """
    if value is None:
        return None
    match = _DURATION.match(value.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"expected a duration such as 15m, 2h, 1d or an ISO-8601 time, got {value!r}",
            param_hint=flag,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def uuid_value(value: str | None, flag: str) -> UUID | None:
    """Parse an id option that must be a UUID."""
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise typer.BadParameter(f"expected a UUID, got {value!r}", param_hint=flag) from None


def confirm(question: str, yes: bool) -> None:
    """Ask before a destructive action when a person is at the keyboard.

    Scripts (stdin not a terminal) and ``--yes`` proceed without asking.
    """
    if yes or not sys.stdin.isatty():
        return
    if not typer.confirm(question, default=False):
        raise typer.Exit(1)

"""Recurrence schedules of recurrent requests: validation and next-run computation.

Two shapes are accepted (CONTRACT §2.6), plus a one-shot one (the gateway's ``d/``
wrapper registers it; docs/decisions.md)::

    {"schedule_type": "interval", "interval_seconds": 300}
    {"schedule_type": "cron", "cron_expression": "*/5 * * * *", "timezone": "UTC"}
    {"schedule_type": "once", "run_at": "2026-05-01T09:30:00+00:00"}

Cron expressions are standard five-field ones (or ``@hourly``-style macros),
evaluated in the schedule's IANA timezone. Around daylight-saving changes the
rules of classic cron apply: a wall-clock time that does not exist (spring
forward) fires at the first instant after the gap, and a wall-clock time that
happens twice (fall back) fires once for jobs pinned to specific hours, while
jobs whose hour field is ``*`` keep firing through the repeated hour.

Everything here is pure: the API validates with :func:`validate_schedule` and
both the API and the gateway's scheduler compute run times with :func:`next_run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

__all__ = [
    "MAX_INTERVAL_SECONDS",
    "MIN_INTERVAL_SECONDS",
    "CronSchedule",
    "IntervalSchedule",
    "OnceSchedule",
    "Schedule",
    "ScheduleError",
    "next_run",
    "parse_schedule",
    "validate_schedule",
]

#: Shortest accepted interval. One second keeps tests fast; per-service limits
#: (listing ``service_options``) may raise it.
MIN_INTERVAL_SECONDS = 1
#: Longest accepted interval: one year.
MAX_INTERVAL_SECONDS = 366 * 24 * 3600

_CRON_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
# Macros whose hour is fixed; "@hourly" behaves like "0 * * * *".
_PINNED_MACROS = _CRON_MACROS - {"@hourly"}
# Bounds how far a search may skip repeated wall-clock times; a day has at most
# a handful of them.
_MAX_SKIPS = 64


class ScheduleError(ValueError):
    """A schedule object is invalid.

    Attributes:
        field: The offending key of the schedule object (``schedule_type``,
            ``interval_seconds``, ``cron_expression``, ``timezone``, or an unknown key).
        message: What is wrong and how to fix it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """Fire every ``interval_seconds`` seconds."""

    interval_seconds: int
    schedule_type: Literal["interval"] = "interval"

    def as_dict(self) -> dict[str, Any]:
        """The normalised wire/storage form."""
        return {"schedule_type": "interval", "interval_seconds": self.interval_seconds}


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """Fire on a cron expression evaluated in ``timezone``."""

    cron_expression: str
    timezone: str = "UTC"
    schedule_type: Literal["cron"] = "cron"

    def as_dict(self) -> dict[str, Any]:
        """The normalised wire/storage form (the timezone always present)."""
        return {
            "schedule_type": "cron",
            "cron_expression": self.cron_expression,
            "timezone": self.timezone,
        }

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's timezone."""
        return ZoneInfo(self.timezone)

    @property
    def hour_pinned(self) -> bool:
        """Whether the expression fires only at specific hours (hour field not ``*``)."""
        expression = self.cron_expression.strip()
        if expression.startswith("@"):
            return expression.lower() in _PINNED_MACROS
        return expression.split()[1] != "*"


@dataclass(frozen=True, slots=True)
class OnceSchedule:
    """Fire once, at ``run_at`` (aware UTC)."""

    run_at: datetime
    schedule_type: Literal["once"] = "once"

    def as_dict(self) -> dict[str, Any]:
        """The normalised wire/storage form."""
        return {"schedule_type": "once", "run_at": self.run_at.isoformat()}


Schedule = IntervalSchedule | CronSchedule | OnceSchedule

_INTERVAL_KEYS = frozenset({"schedule_type", "interval_seconds"})
_CRON_KEYS = frozenset({"schedule_type", "cron_expression", "timezone"})
_ONCE_KEYS = frozenset({"schedule_type", "run_at"})


def parse_schedule(raw: object) -> Schedule:
    """Validate a schedule object and return its typed form.

    Raises:
        ScheduleError: The object is malformed; ``field`` names the offending key.
    """
    if not isinstance(raw, dict):
        raise ScheduleError("schedule", "must be an object with a schedule_type")
    kind = raw.get("schedule_type")
    if kind == "interval":
        _reject_unknown_keys(raw, _INTERVAL_KEYS)
        return IntervalSchedule(_interval_seconds(raw.get("interval_seconds")))
    if kind == "cron":
        _reject_unknown_keys(raw, _CRON_KEYS)
        timezone = _timezone(raw.get("timezone", "UTC"))
        return CronSchedule(_cron_expression(raw.get("cron_expression")), timezone)
    if kind == "once":
        _reject_unknown_keys(raw, _ONCE_KEYS)
        return OnceSchedule(_run_at(raw.get("run_at")))
    raise ScheduleError("schedule_type", "must be 'interval', 'cron' or 'once'")


def validate_schedule(raw: object) -> dict[str, Any]:
    """Validate a schedule object and return its normalised dict form.

    Raises:
        ScheduleError: The object is malformed; ``field`` names the offending key.
    """
    return parse_schedule(raw).as_dict()


def next_run(schedule: Schedule | dict[str, Any], after: datetime) -> datetime | None:
    """The first run time strictly after ``after``, as an aware UTC datetime.

    For an interval that is ``after + interval_seconds``; pass the previous
    *scheduled* time as ``after`` to run without drift. For cron it is the next
    matching wall-clock time in the schedule's timezone (DST rules in the module
    docstring). For a one-shot schedule it is ``run_at`` if that is later, else
    ``None``: it has run (or was due before ``after``) and never runs again.

    Args:
        schedule: A typed schedule or a (valid) schedule dict.
        after: An aware datetime.

    Raises:
        ValueError: ``after`` is naive.
        ScheduleError: ``schedule`` is a dict that does not validate.
    """
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("next_run needs an aware datetime")
    parsed = (
        schedule if isinstance(schedule, IntervalSchedule | CronSchedule | OnceSchedule) else None
    )
    if parsed is None:
        parsed = parse_schedule(schedule)
    if isinstance(parsed, IntervalSchedule):
        return (after + timedelta(seconds=parsed.interval_seconds)).astimezone(UTC)
    if isinstance(parsed, OnceSchedule):
        return parsed.run_at if parsed.run_at > after else None
    return _next_cron(parsed, after)


def _next_cron(schedule: CronSchedule, after: datetime) -> datetime:
    zone = schedule.zone
    iterator = croniter(schedule.cron_expression, after.astimezone(zone))
    for _ in range(_MAX_SKIPS):
        try:
            candidate: datetime = iterator.get_next(datetime)
        except CroniterBadDateError:
            raise ScheduleError("cron_expression", "no run time could be computed") from None
        if schedule.hour_pinned and _is_second_occurrence(candidate, zone):
            continue
        return candidate.astimezone(UTC)
    raise ScheduleError("cron_expression", "no run time could be computed")


def _is_second_occurrence(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether ``moment``'s wall-clock time already happened earlier (DST fall back)."""
    wall = moment.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    return first < moment.astimezone(UTC)


def _reject_unknown_keys(raw: dict[Any, Any], allowed: frozenset[str]) -> None:
    for key in raw:
        if key not in allowed:
            raise ScheduleError(
                str(key), f"unknown schedule key; allowed keys are {', '.join(sorted(allowed))}"
            )


def _interval_seconds(value: object) -> int:
    # bool is an int subclass; true/false are never a meaningful interval.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleError("interval_seconds", "must be an integer number of seconds")
    if not MIN_INTERVAL_SECONDS <= value <= MAX_INTERVAL_SECONDS:
        raise ScheduleError(
            "interval_seconds",
            f"must be between {MIN_INTERVAL_SECONDS} and {MAX_INTERVAL_SECONDS} seconds",
        )
    return value


def _cron_expression(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError("cron_expression", "must be a cron expression such as '*/5 * * * *'")
    expression = " ".join(value.split())
    if expression.startswith("@"):
        if expression.lower() not in _CRON_MACROS:
            raise ScheduleError(
                "cron_expression", f"unknown macro; use one of {', '.join(sorted(_CRON_MACROS))}"
            )
        return expression.lower()
    if len(expression.split()) != 5:
        raise ScheduleError(
            "cron_expression",
            "must have five fields (minute hour day-of-month month day-of-week)",
        )
    if not croniter.is_valid(expression):
        raise ScheduleError("cron_expression", f"{expression!r} is not a valid cron expression")
    try:
        # Valid syntax can still name no date at all ("0 0 30 2 *": February 30).
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ScheduleError(
            "cron_expression",
            f"{expression!r} never fires (no such date); choose a day that exists",
        ) from None
    return expression


def _run_at(value: object) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raise ScheduleError("run_at", "must be an ISO-8601 time such as '2026-05-01T09:30:00Z'")


def _timezone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ScheduleError("timezone", "must be an IANA timezone name such as 'UTC'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            "timezone", f"{value!r} is not a known IANA timezone (e.g. 'Europe/Berlin')"
        ) from None
    return value

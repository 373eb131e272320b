"""Schedule validation and next-run computation (pure units)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from unitysvc_server.domain.schedules import (
    MAX_INTERVAL_SECONDS,
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    next_run,
    parse_schedule,
    validate_schedule,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def cron(expression: str, timezone: str = "UTC") -> dict[str, str]:
    return {"schedule_type": "cron", "cron_expression": expression, "timezone": timezone}


def runs(schedule: dict[str, object], start: datetime, count: int) -> list[datetime]:
    moments, moment = [], start
    for _ in range(count):
        upcoming = next_run(schedule, moment)
        assert upcoming is not None
        moment = upcoming
        moments.append(moment)
    return moments


# -- validation -------------------------------------------------------------------


def test_interval_is_normalised() -> None:
    assert validate_schedule({"schedule_type": "interval", "interval_seconds": 300}) == {
        "schedule_type": "interval",
        "interval_seconds": 300,
    }


def test_cron_timezone_defaults_to_utc() -> None:
    assert validate_schedule({"schedule_type": "cron", "cron_expression": "*/5  *  * * *"}) == {
        "schedule_type": "cron",
        "cron_expression": "*/5 * * * *",
        "timezone": "UTC",
    }


def test_cron_macros_are_accepted() -> None:
    assert parse_schedule(cron("@Hourly")) == CronSchedule("@hourly", "UTC")


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"schedule_type": "weekly"}, "schedule_type"),
        ({}, "schedule_type"),
        ({"schedule_type": "interval"}, "interval_seconds"),
        ({"schedule_type": "interval", "interval_seconds": 0}, "interval_seconds"),
        ({"schedule_type": "interval", "interval_seconds": -5}, "interval_seconds"),
        ({"schedule_type": "interval", "interval_seconds": "60"}, "interval_seconds"),
        ({"schedule_type": "interval", "interval_seconds": True}, "interval_seconds"),
        ({"schedule_type": "interval", "interval_seconds": 1.5}, "interval_seconds"),
        (
            {"schedule_type": "interval", "interval_seconds": MAX_INTERVAL_SECONDS + 1},
            "interval_seconds",
        ),
        ({"schedule_type": "interval", "interval_seconds": 60, "every": 2}, "every"),
        (cron("nope"), "cron_expression"),
        (cron("61 * * * *"), "cron_expression"),
        (cron("* * * * * *"), "cron_expression"),
        (cron("@fortnightly"), "cron_expression"),
        (cron("0 0 30 2 *"), "cron_expression"),  # no such date
        (cron("0 0 31 4,6,9,11 *"), "cron_expression"),
        ({"schedule_type": "cron"}, "cron_expression"),
        (cron("* * * * *", "Mars/Olympus"), "timezone"),
        (cron("* * * * *", ""), "timezone"),
        (cron("* * * * *", "../../etc/passwd"), "timezone"),
    ],
)
def test_invalid_schedules_name_the_field(schedule: dict[str, object], field: str) -> None:
    with pytest.raises(ScheduleError) as info:
        validate_schedule(schedule)
    assert info.value.field == field
    assert info.value.message


def test_non_object_schedule_is_rejected() -> None:
    with pytest.raises(ScheduleError) as info:
        validate_schedule("every 5 minutes")
    assert info.value.field == "schedule"


# -- next_run -----------------------------------------------------------------------


def test_interval_adds_seconds_and_returns_utc() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=BERLIN)
    result = next_run(IntervalSchedule(90), start)
    assert result == start + timedelta(seconds=90)
    assert result.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        next_run(IntervalSchedule(60), datetime(2026, 1, 1))


def test_cron_next_run_is_strictly_after() -> None:
    start = datetime(2026, 5, 4, 10, 5, tzinfo=UTC)
    assert next_run(cron("*/5 * * * *"), start) == datetime(2026, 5, 4, 10, 10, tzinfo=UTC)


def test_cron_in_berlin_keeps_wall_clock_across_spring_forward() -> None:
    # 09:00 local is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST);
    # Germany moves its clocks on 2026-03-29.
    start = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert runs(cron("0 9 * * *", "Europe/Berlin"), start, 2) == [
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    ]


def test_cron_in_a_skipped_hour_fires_right_after_the_gap() -> None:
    # 02:30 does not exist in New York on 2026-03-08 (02:00 -> 03:00 EDT).
    start = datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK)
    first, second = runs(cron("30 2 * * *", "America/New_York"), start, 2)
    assert first == datetime(2026, 3, 8, 3, 0, tzinfo=NEW_YORK)
    assert second.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 3, 9, 2, 30)


def test_daily_cron_fires_once_in_a_repeated_hour() -> None:
    # 01:30 happens twice in New York on 2026-11-01 (EDT, then EST).
    start = datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK)
    assert runs(cron("30 1 * * *", "America/New_York"), start, 2) == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT
        datetime(2026, 11, 2, 6, 30, tzinfo=UTC),  # 01:30 EST the next day
    ]


def test_wildcard_hour_cron_keeps_firing_through_a_repeated_hour() -> None:
    start = datetime(2026, 11, 1, 4, 50, tzinfo=UTC)  # 00:50 EDT
    moments = runs(cron("*/30 * * * *", "America/New_York"), start, 5)
    assert [m.strftime("%H:%M") for m in moments] == ["05:00", "05:30", "06:00", "06:30", "07:00"]
    assert all(b - a == timedelta(minutes=30) for a, b in zip(moments, moments[1:], strict=False))


def test_cron_result_is_utc_even_for_local_schedules() -> None:
    result = next_run(cron("0 12 * * *", "Asia/Tokyo"), datetime(2026, 6, 1, tzinfo=UTC))
    assert result == datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)


def test_a_once_schedule_runs_at_its_time_and_never_again() -> None:
    at = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    schedule = validate_schedule({"schedule_type": "once", "run_at": "2026-05-01T11:30:00+02:00"})
    assert schedule == {"schedule_type": "once", "run_at": at.isoformat()}
    assert next_run(schedule, at - timedelta(seconds=1)) == at
    assert next_run(schedule, at) is None  # it has run
    assert next_run(schedule, at + timedelta(days=1)) is None
    naive = parse_schedule({"schedule_type": "once", "run_at": "2026-05-01T09:30:00"})
    assert naive.as_dict() == schedule  # no offset: UTC


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"schedule_type": "once"}, "run_at"),
        ({"schedule_type": "once", "run_at": "soon"}, "run_at"),
        ({"schedule_type": "once", "run_at": 5}, "run_at"),
        ({"schedule_type": "once", "run_at": "2026-05-01T09:30:00Z", "x": 1}, "x"),
    ],
)
def test_invalid_once_schedules_name_the_field(schedule: dict[str, object], field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(schedule)
    assert caught.value.field == field

"""Usage rules: charge rendering, pricing through core, cycle bounds and the cycle view."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

import unitysvc_server.storage.tables  # noqa: F401 - every table in the metadata
from unitysvc_server.catalog.model import Catalog, freeze
from unitysvc_server.demo.catalog import demo_services
from unitysvc_server.domain.errors import Conflict, Unprocessable
from unitysvc_server.domain.usage import (
    Pricer,
    Usage,
    UsageEvent,
    cycle_bounds,
    cycle_usage,
    format_charge,
    write_usage_events,
)
from unitysvc_server.storage.base import Base

SERVICES = demo_services("http://upstream")
SMALL = next(s for s in SERVICES if s.name == "demo-small")
CATALOG = Catalog(SERVICES)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.0000007"), "0.0000007"),
        (Decimal("7E-7"), "0.0000007"),
        (Decimal("0.00000000000049"), "0"),  # below the 12th place, half-even
        (Decimal("0.0000000000005"), "0"),
        (Decimal("0.0000000000015"), "0.000000000002"),
        (Decimal("12.50"), "12.5"),
        (Decimal(0), "0"),
        (Decimal("-0.10"), "-0.1"),
    ],
)
def test_charges_render_as_plain_decimals(value: Decimal, text: str) -> None:
    assert format_charge(value) == text


def test_token_prices_come_from_the_catalog_via_core() -> None:
    pricer = Pricer()
    usage = Usage(input_tokens=1000, output_tokens=2000, cached_input_tokens=0)
    assert pricer.charge(SMALL, "managed", usage) == Decimal("0.0005")
    # total_tokens alone is billed at the input rate (core's rule).
    assert pricer.charge(SMALL, "managed", Usage(total_tokens=1_000_000)) == Decimal("0.10")
    assert pricer.bundle_id(SMALL) == pricer.bundle_id(SMALL) is not None


def test_channel_prices_follow_the_channel_that_served() -> None:
    priced = replace(
        SMALL,
        list_price=freeze(
            {
                "type": "channel",
                "default": "managed",
                "channels": {
                    "managed": {"type": "constant", "price": "0.01"},
                    "byok": {"type": "constant", "price": "0"},
                },
            }
        ),
    )
    pricer = Pricer()
    assert pricer.charge(priced, "managed", Usage()) == Decimal("0.01")
    assert pricer.charge(priced, "byok", Usage()) == Decimal("0")
    assert pricer.charge(priced, "other", Usage()) == Decimal("0.01")  # the default


def test_a_price_core_cannot_evaluate_charges_nothing_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    per_image = replace(SMALL, list_price=freeze({"type": "image", "price": "0.04"}))
    pricer = Pricer()
    with caplog.at_level(logging.WARNING, "unitysvc_server.usage"):
        assert pricer.charge(per_image, "managed", Usage()) == 0
        assert pricer.charge(per_image, "managed", Usage()) == 0
    assert len([r for r in caplog.records if "cannot be evaluated" in r.message]) == 1


@pytest.mark.parametrize(
    ("start", "today", "bounds"),
    [
        (None, date(2026, 5, 17), (date(2026, 5, 1), date(2026, 6, 1))),
        (None, date(2026, 12, 31), (date(2026, 12, 1), date(2027, 1, 1))),
        (date(2028, 2, 1), date(2026, 1, 1), (date(2028, 2, 1), date(2028, 3, 1))),
    ],
)
def test_cycles_are_calendar_months(
    start: date | None, today: date, bounds: tuple[date, date]
) -> None:
    assert cycle_bounds(start, today) == bounds


def test_a_cycle_start_inside_a_month_is_refused_with_the_fix() -> None:
    with pytest.raises(Unprocessable) as caught:
        cycle_bounds(date(2026, 3, 9), date(2026, 3, 10))
    assert caught.value.loc == ("query", "cycle_start")
    assert "2026-03-01" in caught.value.msg


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as opened:
            yield opened
    finally:
        await engine.dispose()


def usage_event(
    customer: uuid.UUID, at: datetime, charge: str, *, success: bool = True, currency: str = "USD"
) -> UsageEvent:
    return UsageEvent(
        id=uuid.uuid4(),
        customer_id=customer,
        service_id=SMALL.id,
        channel="managed",
        enrollment_id=None,
        event_timestamp=at,
        status_code=200 if success else 500,
        success=success,
        usage=Usage(input_tokens=10, output_tokens=5, bytes_in=3, bytes_out=4, duration_ms=250),
        charge=Decimal(charge),
        currency=currency,
        pricing_bundle_id=None,
    )


async def test_the_cycle_sums_exactly_counts_days_and_projects_flat(session: AsyncSession) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    now = datetime(2026, 4, 10, 15, 0, tzinfo=UTC)  # day 10 of 30
    start = datetime(2026, 4, 1, tzinfo=UTC)
    await write_usage_events(
        session,
        [
            usage_event(alice, start, "0.1"),
            usage_event(alice, now, "0.2"),
            usage_event(alice, now, "0", success=False),
            usage_event(alice, start - timedelta(microseconds=1), "5"),  # March
            usage_event(alice, datetime(2026, 5, 1, tzinfo=UTC), "7"),  # May
            usage_event(bob, now, "9"),
        ],
    )
    view = await cycle_usage(session, CATALOG, alice, None, now)
    assert (view.cycle_start, view.cycle_end) == (date(2026, 4, 1), date(2026, 4, 30))
    assert (view.days_elapsed, view.days_total) == (10, 30)
    assert view.total_charge == view.services_charge == "0.3"  # 0.1 + 0.2, exactly
    assert view.projected_total_charge == "0.9"  # 0.3 * 30 / 10
    assert view.meters_charge == "0" and view.meters == []
    [entry] = view.services or []
    assert (entry.request_count, entry.success_count, entry.error_count) == (3, 2, 1)
    assert entry.service_name == "demo-small" and entry.channel == "managed"
    assert entry.usage_metrics is not None
    assert entry.usage_metrics.to_dict() == {
        "input_tokens": 30,
        "output_tokens": 15,
        "bytes_in": 9,
        "bytes_out": 12,
        "duration_seconds": 0.75,
    }
    march = await cycle_usage(session, CATALOG, alice, date(2026, 3, 1), now)
    assert march.total_charge == "5" and march.days_elapsed == march.days_total == 31
    may = await cycle_usage(session, CATALOG, alice, date(2026, 5, 1), now)
    assert may.days_elapsed == 0 and may.projected_total_charge == "7"


async def test_several_currencies_have_no_single_total(session: AsyncSession) -> None:
    customer = uuid.uuid4()
    now = datetime(2026, 4, 10, tzinfo=UTC)
    await write_usage_events(
        session,
        [usage_event(customer, now, "1"), usage_event(customer, now, "1", currency="EUR")],
    )
    with pytest.raises(Conflict, match="EUR, USD"):
        await cycle_usage(session, CATALOG, customer, None, now)

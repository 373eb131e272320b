"""Usage and cost through the SDK, sync and async, against a real platform.

The demo chat models are priced per million tokens (``CHAT_PRICES``) and their mock
upstreams report OpenAI-shaped ``usage``; the charges asserted here are computed
from what the upstream answered, with ``Decimal``.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from unitysvc import ValidationError
from unitysvc.models import CycleUsageResponse, UsageMetrics
from unitysvc_server.demo.catalog import CHAT_PRICES

MILLION = Decimal(1_000_000)


def _chat(text: str) -> dict[str, Any]:
    return {"model": "demo-small", "messages": [{"role": "user", "content": text}]}


def _cycle_when(client: Any, ready: Any) -> CycleUsageResponse:
    """The current cycle once ``ready(cycle)`` holds (usage is written off the response path)."""
    deadline = time.monotonic() + 10
    while True:
        cycle = client.usage.cycle()
        if ready(cycle) or time.monotonic() > deadline:
            return cycle  # type: ignore[no-any-return]
        time.sleep(0.1)


def test_new_customer_has_an_empty_current_cycle(fresh_client: Any) -> None:
    cycle = fresh_client.usage.cycle()
    assert isinstance(cycle, CycleUsageResponse)
    today = datetime.now(UTC).date()
    assert cycle.cycle_start == today.replace(day=1)
    assert cycle.cycle_end.month == today.month and cycle.cycle_end.day == cycle.days_total
    assert 1 <= cycle.days_elapsed <= cycle.days_total
    assert (cycle.total_charge, cycle.services_charge, cycle.currency) == ("0", "0", "USD")
    assert cycle.services == []


def test_cycle_charges_price_times_tokens_and_counts_errors(
    fresh_client: Any, service_id: Any
) -> None:
    client = fresh_client
    small, down = service_id(client, "demo-small"), service_id(client, "demo-down")
    usages = []
    for text in ("one two three", "four five"):
        response = client.dispatch(f"p/{small}/chat/completions", json=_chat(text))
        assert response.status_code == 200
        assert response.headers["x-unitysvc-service-id"] == small
        usages.append(response.json()["usage"])
    failed = client.dispatch(f"p/{down}/chat/completions", json=_chat("anyone?"))
    assert failed.status_code == 503

    def settled(cycle: CycleUsageResponse) -> bool:
        counts = {str(s.service_id): s.request_count for s in cycle.services or []}
        return counts.get(small) == 2 and counts.get(down) == 1

    cycle = _cycle_when(client, settled)
    by_id = {str(s.service_id): s for s in cycle.services or []}
    assert set(by_id) == {small, down}, cycle
    prompt = sum(u["prompt_tokens"] for u in usages)
    completion = sum(u["completion_tokens"] for u in usages)
    price_in, price_out = (Decimal(p) for p in CHAT_PRICES["demo-small"])
    expected = prompt * price_in / MILLION + completion * price_out / MILLION
    used = by_id[small]
    assert (used.request_count, used.success_count, used.error_count) == (2, 2, 0)
    assert Decimal(used.customer_charge) == expected > 0
    assert used.service_name == "demo-small"
    assert isinstance(used.usage_metrics, UsageMetrics)
    assert used.usage_metrics.input_tokens == prompt
    assert used.usage_metrics.output_tokens == completion
    assert used.usage_metrics["bytes_in"] > 0
    errors = by_id[down]
    assert (errors.request_count, errors.success_count, errors.error_count) == (1, 0, 1)
    assert Decimal(errors.customer_charge) == 0
    assert Decimal(cycle.total_charge) == Decimal(cycle.services_charge) == expected
    assert Decimal(cycle.projected_total_charge) >= expected


def test_request_log_usage_event_has_typed_metrics(fresh_client: Any, service_id: Any) -> None:
    client = fresh_client
    small = service_id(client, "demo-small")
    client.preferences.set_request_log_mode("truncated")
    answer = client.dispatch(f"p/{small}/chat/completions", json=_chat("metered words")).json()
    deadline = time.monotonic() + 10
    detail = None
    while detail is None or detail.usage_event is None:
        assert time.monotonic() < deadline, "the call's log row or usage event never appeared"
        time.sleep(0.1)
        rows = client.request_logs.list(limit=10).items
        detail = client.request_logs.get(rows[0].log_id) if rows else None
    metrics = detail.usage_event.usage_metrics
    assert isinstance(metrics, UsageMetrics)
    assert metrics.input_tokens == answer["usage"]["prompt_tokens"]
    assert metrics.output_tokens == answer["usage"]["completion_tokens"]
    assert metrics.cached_input_tokens is None and "cached_input_tokens" not in metrics
    assert metrics.duration_seconds is not None and metrics.duration_seconds >= 0
    price_in, price_out = (Decimal(p) for p in CHAT_PRICES["demo-small"])
    tokens = answer["usage"]
    expected = tokens["prompt_tokens"] * price_in / MILLION
    expected += tokens["completion_tokens"] * price_out / MILLION
    assert Decimal(detail.usage_event.customer_charge) == expected


def test_one_customer_never_sees_another_customers_usage(
    fresh_client: Any, platform: Any, service_id: Any
) -> None:
    small = service_id(fresh_client, "demo-small")
    fresh_client.dispatch(f"p/{small}/chat/completions", json=_chat("mine"))
    mine = _cycle_when(fresh_client, lambda c: bool(c.services))
    assert [s.request_count for s in mine.services or []] == [1]
    with platform.client(platform.create_customer("usage-other")) as other:
        theirs = other.usage.cycle()
    assert theirs.services == [] and theirs.total_charge == "0"


def test_past_cycle_by_date_or_string(fresh_client: Any) -> None:
    by_date = fresh_client.usage.cycle(date(2026, 2, 1))
    by_text = fresh_client.usage.cycle("2026-02-01")
    for cycle in (by_date, by_text):
        assert (cycle.cycle_start, cycle.cycle_end) == (date(2026, 2, 1), date(2026, 2, 28))
        assert cycle.days_total == 28 and cycle.services == []


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("2026-02-15", "'2026-02-01'"),
        (date(2026, 3, 31), "'2026-03-01'"),
        ("February", "'2026-04-01'"),
        (datetime(2026, 3, 1, tzinfo=UTC), "a cycle starts on a date"),
    ],
)
def test_cycle_start_must_be_a_months_first_day(fresh_client: Any, bad: Any, named: str) -> None:
    with pytest.raises(ValidationError) as info:
        fresh_client.usage.cycle(bad)
    assert info.value.field == "cycle_start" and named in str(info.value)

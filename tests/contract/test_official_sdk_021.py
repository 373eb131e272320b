"""What only 0.2.1 calls: preferences, cycle usage, delayed/recurrent wrappers.

Expected charges are computed here from the catalog's list price and the token counts the
demo upstream reported to the official SDK, with ``Decimal`` -- independently of the
server's pricing code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from official_sdk import Scenario

from unitysvc_server.testing import LocalPlatform


def test_preferences_round_trip_with_meaningful_errors(
    run_scenario: Scenario, new_key: Callable[[], str]
) -> None:
    seen = run_scenario("0.2.1", "preferences_021", new_key())
    assert set(seen["before"]) == {"notification", "ai", "request-log"}
    for pref in seen["before"].values():
        assert pref["account"]["type"] == "customer" and pref["can_edit"] is True
        assert pref.get("value") is None and pref.get("source") is None
    assert seen["on"]["value"] == seen["on"]["effective"] == "complete"
    assert seen["on"]["source"] == "account"
    assert seen["read"]["value"] == "complete"
    assert seen["cleared"].get("value") is None
    assert seen["notification"]["value"] == {"service": "demo-small", "gateway": "api"}
    assert seen["ai"]["value"]["service"] == "demo-small"
    assert seen["ai_cleared"].get("value") is None
    errors = seen["errors"]
    assert errors["bad_mode"]["type"] == "ValidationError"
    assert errors["bad_mode"]["status"] == 422
    [item] = errors["bad_mode"]["detail"]["detail"]
    assert item["loc"] == ["body", "value"]
    assert "'truncated'" in item["msg"] and "'complete'" in item["msg"]
    assert errors["bad_service"]["status"] == 422
    assert errors["unknown"]["type"] == "NotFoundError" and errors["unknown"]["status"] == 404
    assert "notification, ai, request-log" in errors["unknown"]["detail"]["detail"]
    assert seen["after"] == {
        "notification": {"service": "demo-small", "gateway": "api"},
        "ai": None,
        "request-log": None,
    }


def test_cycle_usage_is_catalog_price_times_upstream_tokens(
    run_scenario: Scenario, new_key: Callable[[], str], platform: LocalPlatform
) -> None:
    key, other = new_key(), new_key()
    seen = run_scenario("0.2.1", "cycle_usage_021", key)
    small = platform.app.runtime.catalog.service_by_name("demo-small")
    assert small is not None and small.list_price is not None
    rate_in, rate_out = Decimal(small.list_price["input"]), Decimal(small.list_price["output"])
    usages = seen["usages"]
    expected = (
        sum(rate_in * u["prompt_tokens"] + rate_out * u["completion_tokens"] for u in usages)
        / 1_000_000
    )
    cycle = seen["cycle"]
    by_name = {s["service_name"]: s for s in cycle["services"]}
    chat = by_name["demo-small"]
    assert Decimal(chat["customer_charge"]) == expected > 0
    assert (chat["request_count"], chat["success_count"], chat["error_count"]) == (4, 4, 0)
    assert chat["usage_metrics"]["input_tokens"] == sum(u["prompt_tokens"] for u in usages)
    assert chat["usage_metrics"]["output_tokens"] == sum(u["completion_tokens"] for u in usages)
    # The upstream error is counted as an error and costs nothing.
    assert seen["down_status"] == 503
    down = by_name["demo-down"]
    assert (down["request_count"], down["success_count"], down["error_count"]) == (1, 0, 1)
    assert Decimal(down["customer_charge"]) == 0
    assert Decimal(cycle["total_charge"]) == Decimal(cycle["services_charge"]) == expected
    assert Decimal(cycle["meters_charge"]) == 0 and cycle["currency"] == "USD"
    today = datetime.now(UTC).date()
    assert date.fromisoformat(cycle["cycle_start"]) == today.replace(day=1)
    assert cycle["days_elapsed"] == today.day
    projected = expected * cycle["days_total"] / cycle["days_elapsed"]
    assert abs(Decimal(cycle["projected_total_charge"]) - projected) <= Decimal("1e-12")
    # The official SDK parsed typed models, not bare dicts.
    assert seen["types"]["cycle_start"] == "date" and seen["types"]["as_of"] == "datetime"
    assert set(seen["types"]["services"]) == {"ServiceUsagePublic"}
    assert set(seen["types"]["metrics"]) == {"UsageMetrics"}
    bad = seen["bad_cycle_start"]
    assert bad["status"] == 422 and bad["body"]["detail"][0]["loc"] == ["query", "cycle_start"]
    # One customer never sees another's usage.
    theirs = run_scenario("0.2.1", "other_cycle_021", other)["cycle"]
    assert theirs.get("services", []) == [] and Decimal(theirs["total_charge"]) == 0


def test_delayed_and_recurrent_wrappers_and_group_models(
    run_scenario: Scenario, new_key: Callable[[], str]
) -> None:
    seen = run_scenario("0.2.1", "wrappers_021", new_key())
    assert seen["delayed_status"] == 202 and seen["delayed"]["kind"] == "delayed"
    assert seen["fired_state"]["run_count"] == 1 and seen["fired_state"]["success_count"] == 1
    assert seen["fired_state"]["next_run_at"] is None  # fires once
    assert seen["fired_schedule"]["schedule_type"] == "once"
    assert seen["delayed_listed"] is True
    assert seen["recurring_status"] == 202 and seen["recurring_runs"] >= 2
    assert seen["listed_after_delete"] is False
    assert seen["models"] == ["demo-small", "demo-medium", "demo-large"]

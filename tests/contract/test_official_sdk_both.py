"""The flows both official releases (0.2.1 and 0.1.22) have, driven against our platform."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from official_sdk import VERSIONS, Scenario

from unitysvc_server.testing import LocalPlatform

#: Longer than the 8 KB preview a truncated log keeps.
BIG = "0123456789abcdef" * 1500


def demo_chat_url(platform: LocalPlatform) -> str:
    small = platform.app.runtime.catalog.service_by_name("demo-small")
    assert small is not None
    return small.channels[0].base_url


@pytest.mark.parametrize("version", VERSIONS)
def test_catalog_and_secrets(
    run_scenario: Scenario, new_key: Callable[[], str], platform: LocalPlatform, version: str
) -> None:
    seen = run_scenario(version, "catalog_and_secrets", new_key())
    assert seen["groups"] == ["all_services", "llm"]
    assert set(seen["group_types"]) <= {"category", "collection", "open", "keyed"}
    assert seen["llm_type"] == "open"
    assert {"demo-small", "demo-byoe", "echo"} <= set(seen["services"])
    small = platform.app.runtime.catalog.service_by_name("demo-small")
    assert small is not None and seen["small_id"] == str(small.id)
    detail = seen["small_detail"]
    assert detail["name"] == "demo-small" and detail["channel_types"] == ["managed"]
    # Its own interface, and the llm group's it is also reachable through.
    assert seen["interfaces"] == [
        f"{platform.gateway_url}/demo-small/v1",
        f"{platform.gateway_url}/g/llm/v1",
    ]
    [channel] = seen["plan"]["channels"]
    assert channel["name"] == "managed" and channel["price"] == "0.18"
    assert "Quickstart" in seen["documents"]
    assert seen["secret"] == {
        "created": True,
        "sensitive": True,
        "value_hidden": True,
        "listed": True,
        "gone": True,
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_enroll_and_dispatch(
    run_scenario: Scenario, new_key: Callable[[], str], platform: LocalPlatform, version: str
) -> None:
    base = demo_chat_url(platform)
    seen = run_scenario(version, "enroll_and_dispatch", new_key(), byoe_base_url=base)
    assert seen["pending"] == "pending" and seen["status"] == "active"
    assert len(seen["code"]) == 4
    assert seen["enrollment_id"] in seen["listed"]
    assert seen["byoe_status"] == 200 and seen["byoe_reply"] == "[demo-small] via byoe"
    assert seen["small_status"] == 200
    assert seen["small_usage"]["completion_tokens"] == 3  # "[demo-small] hello there"
    small = platform.app.runtime.catalog.service_by_name("demo-small")
    assert small is not None and seen["small_service_header"] == str(small.id)


@pytest.mark.parametrize(
    ("version", "scenario"), [("0.2.1", "complete_mode_021"), ("0.1.22", "complete_mode_0122")]
)
def test_complete_mode_logs_whole_bodies(
    run_scenario: Scenario, new_key: Callable[[], str], version: str, scenario: str
) -> None:
    seen = run_scenario(version, scenario, new_key(), big=BIG)
    assert seen["sent_status"] == 200
    assert seen["request_body"] == {"big": BIG}  # whole, not the 8 KB preview
    assert seen["response_body"]["body"] == {"big": BIG}  # the echo's reply, whole too
    # The echo service is priced 0 per request: a usage event with a zero charge.
    event = seen["usage_event"]
    assert Decimal(event["customer_charge"]) == 0
    assert event["usage_metrics"]["bytes_in"] == seen["sent_bytes"] > len(BIG)


def test_0122_parses_the_usage_event_and_its_charge(
    run_scenario: Scenario, new_key: Callable[[], str], platform: LocalPlatform
) -> None:
    seen = run_scenario("0.1.22", "complete_mode_0122", new_key(), big="x")
    small = platform.app.runtime.catalog.service_by_name("demo-small")
    assert small is not None and small.list_price is not None
    usage = seen["chat_usage"]
    expected = (
        Decimal(small.list_price["input"]) * usage["prompt_tokens"]
        + Decimal(small.list_price["output"]) * usage["completion_tokens"]
    ) / 1_000_000
    assert seen["chat_charge_type"] == "str"
    assert Decimal(seen["chat_usage_event"]["customer_charge"]) == expected
    metrics = seen["chat_usage_event"]["usage_metrics"]
    assert (metrics["input_tokens"], metrics["output_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


def test_0122_start_stop_and_the_021_preference_are_one_setting(
    run_scenario: Scenario, new_key: Callable[[], str]
) -> None:
    key = new_key()

    def preference() -> Any:
        return run_scenario("0.2.1", "request_log_preference_021", key)

    assert preference() == {"value": None, "source": None}
    started = run_scenario("0.1.22", "logging_switch_0122", key, action="start", mode="complete")
    assert started == {"enabled": True}
    assert preference() == {"value": "complete", "source": "account"}
    run_scenario("0.1.22", "logging_switch_0122", key, action="start", mode="truncated")
    assert preference() == {"value": "truncated", "source": "account"}
    stopped = run_scenario("0.1.22", "logging_switch_0122", key, action="stop", mode="")
    assert stopped == {"enabled": False}
    assert preference() == {"value": None, "source": None}

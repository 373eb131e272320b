"""``usvc mcp`` account tools: enroll (preview, then confirm), enrollments, request logs, usage."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from _mcp_session import McpSession, chat, service_id

from unitysvc.cli.demo import DEMO_BYOK_KEY

if TYPE_CHECKING:
    from unitysvc_server.testing import LocalPlatform


def _until(fetch: Callable[[], Any], done: Callable[[Any], bool], what: str) -> Any:
    """Fetch until ``done`` holds: log rows and usage are written off the response path."""
    deadline = time.monotonic() + 15
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what} did not appear; last: {value}"
        time.sleep(0.1)


def _enrollments_of(platform: LocalPlatform, api_key: str) -> list[str]:
    with platform.client(api_key) as client:
        return [str(e.service_id) for e in client.enrollments.iter()]


def test_enroll_previews_without_confirm_and_changes_nothing(
    agent: McpSession, platform: LocalPlatform, api_key: str
) -> None:
    byok = service_id(platform, "demo-byok")
    preview = agent.ok("enroll", {"service_id": byok})
    assert preview["confirmed"] is False
    assert preview["service"] == {"id": byok, "name": "demo-byok"}
    assert preview["required_secrets"] == ["DEMO_API_KEY"]
    assert preview["missing_secrets"] == ["DEMO_API_KEY"]
    assert any("DEMO_API_KEY" in warning for warning in preview["warnings"])
    assert preview["channels"][0]["price"] == "free"
    assert "confirm=true" in preview["to_proceed"]
    assert byok not in _enrollments_of(platform, api_key)


def test_enroll_preview_names_missing_and_unknown_parameters(
    agent: McpSession, platform: LocalPlatform
) -> None:
    preview = agent.ok(
        "enroll", {"service_id": service_id(platform, "demo-byoe"), "parameters": {"modle": "x"}}
    )
    assert preview["enrollment_mode"] == "required"
    provided = {p["name"]: p["provided"] for p in preview["parameters"]}
    assert provided == {"base_url": False, "api_key_secret": False}
    warnings = " ".join(preview["warnings"])
    assert "required parameters missing: base_url" in warnings
    assert "does not declare: modle" in warnings


def test_enroll_with_confirm_activates_and_is_callable_at_its_code(
    agent: McpSession, platform: LocalPlatform, api_key: str
) -> None:
    byok = service_id(platform, "demo-byok")
    with platform.client(api_key) as client:
        client.secrets.set("DEMO_API_KEY", DEMO_BYOK_KEY)
    preview = agent.ok("enroll", {"service_id": byok})
    assert preview["missing_secrets"] == []

    done = agent.ok("enroll", {"service_id": byok, "confirm": True})
    assert done["confirmed"] is True
    enrollment = done["enrollment"]
    assert enrollment["status"] == "active"
    assert enrollment["gateway_path"] == f"e/{enrollment['code']}"
    assert "owner_id" not in enrollment

    listed = agent.ok("list_enrollments", {"service_id": byok})["enrollments"]
    assert [e["id"] for e in listed] == [enrollment["id"]]
    assert agent.ok("list_enrollments", {"status": "cancelled"})["count"] == 0

    answer = agent.ok(
        "dispatch",
        {
            "gateway_path": enrollment["gateway_path"],
            "path": "chat/completions",
            "json_body": chat("demo-byok", "through my enrollment"),
        },
    )
    assert answer["headers"]["x-unitysvc-service-id"] == byok
    assert answer["body"]["choices"][0]["message"]["content"].endswith("through my enrollment")

    # Enrolling twice: the platform's refusal, as a tool error.
    again = agent.ok("enroll", {"service_id": byok})
    assert [e["id"] for e in again["existing_enrollments"]] == [enrollment["id"]]
    message = agent.error("enroll", {"service_id": byok, "confirm": True})
    assert "409" in message
    assert "already exists" in message

    # Cancel: a preview first, then for real.
    preview = agent.ok("cancel_enrollment", {"enrollment_id": enrollment["id"]})
    assert preview["confirmed"] is False
    assert enrollment["gateway_path"] in preview["would"]
    assert agent.ok("list_enrollments", {"status": "active"})["count"] == 1
    agent.ok("cancel_enrollment", {"enrollment_id": enrollment["id"], "confirm": True})
    cancelled = agent.ok("list_enrollments", {"status": "cancelled"})["enrollments"]
    assert [e["id"] for e in cancelled] == [enrollment["id"]]


def test_a_logged_dispatch_reads_back_from_the_request_log(
    agent: McpSession, platform: LocalPlatform
) -> None:
    small = service_id(platform, "demo-small")
    answer = agent.ok(
        "dispatch",
        {
            "service_id": small,
            "path": "chat/completions",
            "json_body": chat("demo-small", "remember me"),
            "log": True,
        },
    )
    assert answer["url"].split("/", 3)[3].startswith("l/")  # the log wrapper was applied
    page = _until(
        lambda: agent.ok("list_request_logs", {"service_id": small, "since_minutes": 10}),
        lambda page: page["total_count"] >= 1,
        "the request-log row",
    )
    row = page["items"][0]
    assert row["upstream_response_status_code"] == 200
    assert row["user_request_path"].endswith("chat/completions")

    detail = agent.ok("get_request_log", {"log_id": row["log_id"]})
    assert "remember me" in str(detail["user_request"]["body"])
    assert "[demo-small] remember me" in str(detail["upstream_response"]["body"])
    assert "truncated_bodies" not in detail

    assert agent.ok("list_request_logs", {"errors_only": True})["total_count"] == 0
    assert "404" in agent.error(
        "get_request_log", {"log_id": "00000000-0000-0000-0000-000000000000"}
    )


def test_usage_shows_the_cycles_calls_and_charge(
    agent: McpSession, platform: LocalPlatform
) -> None:
    small = service_id(platform, "demo-small")
    agent.ok(
        "dispatch",
        {"service_id": small, "path": "chat/completions", "json_body": chat("demo-small", "bill")},
    )

    def small_row(cycle: dict[str, Any]) -> dict[str, Any] | None:
        return next((s for s in cycle.get("services", []) if s["service_id"] == small), None)

    cycle = _until(lambda: agent.ok("get_usage"), small_row, "usage of demo-small")
    row = small_row(cycle)
    assert row is not None
    assert row["request_count"] >= 1
    assert Decimal(row["customer_charge"]) > 0
    assert cycle["currency"] == "USD"
    assert cycle["cycle_start"].endswith("-01")

    message = agent.error("get_usage", {"cycle_start": "2026-04-15"})
    assert "2026-04-01" in message  # the SDK's check says which day to use

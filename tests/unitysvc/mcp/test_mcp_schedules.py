"""``usvc mcp`` recurrent-request tools: create (preview, confirm), list, pause, resume,
trigger, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from _mcp_session import McpSession, chat, service_id

if TYPE_CHECKING:
    from unitysvc_server.testing import LocalPlatform


def _ids(agent: McpSession, **filters: str) -> list[str]:
    rows = agent.ok("list_recurrent_requests", dict(filters))["recurrent_requests"]
    return [row["id"] for row in rows]


def test_a_recurrent_request_through_its_whole_life(
    agent: McpSession, platform: LocalPlatform
) -> None:
    small = service_id(platform, "demo-small")
    create = {
        "service_id": small,
        "path": "chat/completions",
        "json_body": chat("demo-small", "tick"),
        "every_seconds": 3600,
        "name": "hourly tick",
    }
    preview = agent.ok("create_recurrent_request", create)
    assert preview["confirmed"] is False
    assert preview["schedule"] == {"schedule_type": "interval", "interval_seconds": 3600}
    assert "paid call" in preview["would"]
    assert _ids(agent) == []

    created = agent.ok("create_recurrent_request", {**create, "confirm": True})
    request = created["recurrent_request"]
    assert request["status"] == "active"
    assert request["name"] == "hourly tick"
    assert request["service_id"] == small
    assert _ids(agent, status="active") == [request["id"]]

    paused = agent.ok(
        "set_recurrent_request_status", {"request_id": request["id"], "status": "paused"}
    )
    assert paused["recurrent_request"]["status"] == "paused"
    assert _ids(agent, status="active") == []
    resumed = agent.ok(
        "set_recurrent_request_status", {"request_id": request["id"], "status": "active"}
    )
    assert resumed["recurrent_request"]["status"] == "active"

    ran = agent.ok("trigger_recurrent_request", {"request_id": request["id"]})
    assert ran["response"]["choices"][0]["message"]["content"] == "[demo-small] tick"

    preview = agent.ok("delete_recurrent_request", {"request_id": request["id"]})
    assert preview["confirmed"] is False
    assert "hourly tick" in preview["would"]
    assert _ids(agent) == [request["id"]]
    agent.ok("delete_recurrent_request", {"request_id": request["id"], "confirm": True})
    assert request["id"] not in _ids(agent, status="active")


def test_a_recurrent_request_on_a_gateway_path_with_cron(agent: McpSession) -> None:
    created = agent.ok(
        "create_recurrent_request",
        {
            "gateway_path": "g/llm/v1",
            "path": "chat/completions",
            "json_body": chat("demo-medium", "cron"),
            "cron": "0 9 * * 1",
            "timezone": "Europe/Paris",
            "confirm": True,
        },
    )["recurrent_request"]
    assert created["status"] == "active"
    assert created["schedule"]["cron_expression"] == "0 9 * * 1"
    assert created["request_path"].endswith("/g/llm/v1/chat/completions")
    ran = agent.ok("trigger_recurrent_request", {"request_id": created["id"]})
    assert ran["response"]["model"] == "demo-medium"
    agent.ok("delete_recurrent_request", {"request_id": created["id"], "confirm": True})


def test_targets_schedules_and_unknown_ids_are_tool_errors(agent: McpSession) -> None:
    message = agent.error("create_recurrent_request", {"every_seconds": 60})
    assert "exactly one target" in message
    message = agent.error("create_recurrent_request", {"gateway_path": "g/llm"})
    assert "exactly one schedule" in message
    missing = "00000000-0000-0000-0000-000000000000"
    assert "404" in agent.error("trigger_recurrent_request", {"request_id": missing})
    assert "404" in agent.error("delete_recurrent_request", {"request_id": missing})

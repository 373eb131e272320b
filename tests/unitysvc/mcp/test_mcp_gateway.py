"""``usvc mcp``'s ``dispatch``: services, groups and gateway paths through the demo upstreams."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
from _mcp_session import McpSession, chat, error_text, service_id

if TYPE_CHECKING:
    from unitysvc_server.testing import LocalPlatform


def test_dispatch_to_a_service_returns_status_headers_and_parsed_json(
    agent: McpSession, platform: LocalPlatform
) -> None:
    sid = service_id(platform, "demo-small")
    answer = agent.ok(
        "dispatch",
        {"service_id": sid, "path": "chat/completions", "json_body": chat("demo-small", "hi")},
    )
    assert answer["status"] == 200
    assert answer["ok"] is True
    assert answer["headers"]["x-unitysvc-service-id"] == sid
    assert answer["headers"]["content-type"].startswith("application/json")
    assert "x-request-id" in answer["headers"]
    assert "date" not in answer["headers"]  # only the headers that say something
    assert answer["body"]["choices"][0]["message"]["content"] == "[demo-small] hi"
    assert "truncated" not in answer


def test_dispatch_to_a_group_lets_its_routing_pick_the_member(
    agent: McpSession, platform: LocalPlatform
) -> None:
    answer = agent.ok(
        "dispatch",
        {"group": "llm", "path": "chat/completions", "json_body": chat("demo-medium", "route")},
    )
    assert answer["headers"]["x-unitysvc-service-id"] == service_id(platform, "demo-medium")
    assert answer["body"]["model"] == "demo-medium"


def test_dispatch_to_an_alias_path(
    agent: McpSession, platform: LocalPlatform, api_key: str
) -> None:
    with platform.client(api_key) as client:
        client.aliases.create({"name": "mcp-chat", "target_path": "g/llm/v1"})
    answer = agent.ok(
        "dispatch",
        {
            "gateway_path": "a/mcp-chat",
            "path": "chat/completions",
            "json_body": chat("demo-large", "via alias"),
        },
    )
    assert answer["status"] == 200
    assert answer["url"].endswith("/a/mcp-chat/chat/completions")
    assert answer["headers"]["x-unitysvc-service-id"] == service_id(platform, "demo-large")


def test_an_upstream_error_is_a_tool_error_carrying_the_response(
    agent: McpSession, platform: LocalPlatform
) -> None:
    result = agent.call(
        "dispatch",
        {
            "service_id": service_id(platform, "demo-down"),
            "path": "chat/completions",
            "json_body": chat("demo-small", "anyone?"),
        },
    )
    assert result.is_error
    answer = json.loads(error_text(result))
    assert answer["status"] == 503
    assert answer["ok"] is False
    assert answer["body"]  # the upstream's own message reaches the agent


def test_a_large_body_is_cut_at_max_body_chars(agent: McpSession, platform: LocalPlatform) -> None:
    big = "x" * 5_000
    answer = agent.ok(
        "dispatch",
        {
            "service_id": service_id(platform, "echo"),
            "json_body": {"payload": big},
            "max_body_chars": 1_000,
        },
    )
    assert answer["truncated"] is True
    assert isinstance(answer["body"], str)  # cut JSON is text, never a partial structure
    assert len(answer["body"]) == 1_000
    assert answer["body_chars"] > 5_000


def test_get_without_a_body_and_a_text_body(agent: McpSession, platform: LocalPlatform) -> None:
    echo = service_id(platform, "echo")
    answer = agent.ok("dispatch", {"service_id": echo, "path": "status"})
    assert answer["body"]["method"] == "GET"
    assert answer["body"]["path"].endswith("/status")
    answer = agent.ok(
        "dispatch", {"service_id": echo, "text_body": "plain words", "headers": {"X-Mine": "1"}}
    )
    assert answer["body"]["method"] == "POST"
    assert "plain words" in json.dumps(answer["body"])
    assert answer["body"]["headers"]["x-mine"] == "1"


def test_cache_ttl_serves_the_repeat_from_the_gateway_cache(
    agent: McpSession, platform: LocalPlatform
) -> None:
    call = {
        "service_id": service_id(platform, "demo-small"),
        "path": "chat/completions",
        "json_body": chat("demo-small", "cache me"),
        "cache_ttl": "5m",
    }
    first = agent.ok("dispatch", call)
    second = agent.ok("dispatch", call)
    assert first["headers"]["x-unitysvc-cache"] == "miss"
    assert second["headers"]["x-unitysvc-cache"] == "hit"
    assert second["body"] == first["body"]


def test_a_key_in_a_body_is_refused_and_never_echoed(
    agent: McpSession, platform: LocalPlatform, api_key: str
) -> None:
    result = agent.call(
        "dispatch", {"service_id": service_id(platform, "echo"), "json_body": {"note": api_key}}
    )
    assert result.is_error
    answer = json.loads(error_text(result))
    assert answer["status"] == 400
    assert answer["body"]["error_type"] == "credential_in_body"
    assert api_key not in error_text(result)


def test_targets_and_bodies_are_checked_before_sending(agent: McpSession) -> None:
    assert "exactly one target" in agent.error("dispatch", {"path": "x"})
    message = agent.error("dispatch", {"group": "llm", "gateway_path": "g/llm"})
    assert "got group, gateway_path" in message
    message = agent.error("dispatch", {"group": "llm", "json_body": {"a": 1}, "text_body": "b"})
    assert "json_body or text_body" in message
    assert "'forever'" in agent.error("dispatch", {"group": "llm", "cache_ttl": "forever"})


def _response(content: bytes, content_type: str | None, status: int = 200) -> httpx.Response:
    headers = {"x-unitysvc-cache": "miss", "date": "today", "X-RateLimit-Remaining": "9"}
    if content_type:
        headers["content-type"] = content_type
    request = httpx.Request("POST", "http://127.0.0.1:1/p/abc/chat")
    return httpx.Response(status, content=content, headers=headers, request=request)


def test_summarize_keeps_the_headers_of_interest() -> None:
    from unitysvc.mcp.gateway import summarize  # the MCP SDK: imported when run, not collected

    summary = summarize(_response(b'{"a": 1}', "application/json"), 100)
    assert summary["headers"] == {
        "content-type": "application/json",
        "x-unitysvc-cache": "miss",
        "x-ratelimit-remaining": "9",
    }
    assert summary["body"] == {"a": 1}
    assert summary["url"] == "http://127.0.0.1:1/p/abc/chat"


def test_summarize_cuts_text_and_describes_binary_bodies() -> None:
    from unitysvc.mcp.gateway import summarize

    text = summarize(_response(b"word " * 100, "text/plain"), 100)
    assert (len(text["body"]), text["truncated"], text["body_chars"]) == (100, True, 500)
    binary = summarize(_response(bytes(range(256)), "image/png"), 100)
    assert binary["body"] is None
    assert "binary body of 256 bytes (image/png)" in binary["body_note"]
    assert summarize(_response(b"", None, 204), 100)["body"] is None
    # No content type: text when it decodes, else binary.
    assert summarize(_response(b"plain", None), 100)["body"] == "plain"
    assert summarize(_response(b"\xff\xfe", None), 100)["body"] is None


def test_summarize_reads_invalid_json_as_text() -> None:
    from unitysvc.mcp.gateway import summarize

    summary = summarize(_response(b"{not json", "application/json"), 100)
    assert summary["body"] == "{not json"
    assert summarize(_response(b"{}", "application/json", 503), 100)["ok"] is False

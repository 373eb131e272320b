"""``usvc mcp`` catalog tools and document resources, over stdio against the demo platform."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _mcp_session import McpSession, service_id

if TYPE_CHECKING:
    from unitysvc_server.testing import LocalPlatform


def test_search_services_finds_by_text_and_pages(
    agent: McpSession, platform: LocalPlatform
) -> None:
    found = agent.ok("search_services", {"query": "demo-small"})
    assert [s["name"] for s in found["services"]] == ["demo-small"]
    small = found["services"][0]
    assert small["id"] == service_id(platform, "demo-small")
    assert small["gateway_path"] == f"p/{small['id']}"

    first = agent.ok("search_services", {"limit": 2})
    assert len(first["services"]) == 2
    rest = agent.ok("search_services", {"limit": 100, "cursor": first["next_cursor"]})
    names = {s["name"] for s in first["services"]} | {s["name"] for s in rest["services"]}
    assert {"echo", "demo-small", "demo-byok", "demo-byoe", "demo-down"} <= names
    assert "next_cursor" not in rest


def test_list_groups_shows_gateway_paths(agent: McpSession) -> None:
    groups = {g["name"]: g for g in agent.ok("list_groups")["groups"]}
    assert groups["llm"]["gateway_path"] == "g/llm"
    assert groups["llm"]["member_count"] == 3
    assert "all_services" in groups
    only = agent.ok("list_groups", {"name": "LLM"})["groups"]
    assert [g["name"] for g in only] == ["llm"]


def test_get_service_shows_plan_pricing_and_document_links(
    agent: McpSession, platform: LocalPlatform
) -> None:
    from mcp.types import ResourceLink

    sid = service_id(platform, "demo-small")
    result = agent.call("get_service", {"service_id": sid})
    assert not result.is_error
    data = result.structured_content
    assert data is not None
    assert data["service"]["name"] == "demo-small"
    plan = data["access_plan"]
    assert plan["enrollment_mode"] == "disallowed"
    [channel] = plan["channels"]
    assert channel["price"] == "0.18"
    assert channel["currency"] == "USD"
    assert plan["interfaces"][0]["base_url"].endswith("/demo-small/v1")
    titles = {d["title"]: d for d in data["documents"]}
    assert {"Python code example", "Quickstart"} <= set(titles)
    quickstart = titles["Quickstart"]
    assert quickstart["uri"] == f"unitysvc://services/{sid}/documents/{quickstart['id']}"
    assert any("dispatch" in step for step in data["next_steps"])
    links = [block for block in result.content if isinstance(block, ResourceLink)]
    assert {str(link.uri) for link in links} == {d["uri"] for d in data["documents"]}
    assert {link.mime_type for link in links} >= {"text/markdown", "text/x-python"}


def test_get_service_of_an_enrollment_service_says_to_enroll(
    agent: McpSession, platform: LocalPlatform
) -> None:
    data = agent.ok("get_service", {"service_id": service_id(platform, "demo-byoe")})
    assert data["access_plan"]["enrollment_mode"] == "required"
    assert [p["name"] for p in data["access_plan"]["parameters"]] == ["base_url", "api_key_secret"]
    assert any("enrollment required" in step for step in data["next_steps"])


def test_read_service_documents_returns_rendered_examples(
    agent: McpSession, platform: LocalPlatform
) -> None:
    sid = service_id(platform, "demo-small")
    data = agent.ok("read_service_documents", {"service_id": sid, "category": "code_example"})
    by_type = {d["mime_type"]: d for d in data["documents"]}
    assert set(by_type) == {"python", "bash"}
    # Rendered against the service's interface: the real gateway URL, never the key.
    assert f"{platform.gateway_url}/demo-small/v1" in by_type["python"]["content"]
    assert "UNITYSVC_API_KEY" in by_type["bash"]["content"]
    assert "truncated" not in by_type["python"]


def test_a_document_reads_as_a_resource(agent: McpSession, platform: LocalPlatform) -> None:
    from mcp.types import TextResourceContents

    sid = service_id(platform, "demo-small")
    docs = agent.ok("get_service", {"service_id": sid})["documents"]
    uri = next(d["uri"] for d in docs if d["title"] == "Quickstart")
    read = agent.run(agent.session.read_resource(uri))
    [contents] = read.contents
    assert isinstance(contents, TextResourceContents)
    assert contents.text.startswith("# Demo chat models")

    templates = agent.run(agent.session.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == [
        "unitysvc://services/{service_id}/documents/{document_id}"
    ]


def test_an_unknown_document_is_a_resource_error(
    agent: McpSession, platform: LocalPlatform
) -> None:
    from mcp.shared.exceptions import MCPError

    sid = service_id(platform, "demo-small")
    missing = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(MCPError, match="not found"):
        agent.run(agent.session.read_resource(f"unitysvc://services/{sid}/documents/{missing}"))


def test_an_unknown_service_is_a_tool_error_with_the_platforms_message(
    agent: McpSession,
) -> None:
    message = agent.error("get_service", {"service_id": "no-such-service"})
    assert "404" in message
    assert "service no-such-service not found" in message
    assert "search_services" in message  # what to do next


def test_bad_arguments_are_refused_by_the_schema(agent: McpSession) -> None:
    message = agent.error("search_services", {"limit": 0})
    assert "limit" in message
    message = agent.error("list_groups", {"owner": "everyone"})
    assert "owner" in message

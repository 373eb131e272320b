"""``usvc mcp`` itself: the tool list and schemas, streamable HTTP, the command line, and
the key never leaving the server (answers, errors, debug log)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from _mcp_session import USVC, McpSession, error_text, service_id

from unitysvc.cli.mcp import MISSING_EXTRA

if TYPE_CHECKING:
    from unitysvc_server.testing import LocalPlatform

TOOLS = {
    "search_services",
    "list_groups",
    "get_service",
    "read_service_documents",
    "list_enrollments",
    "enroll",
    "cancel_enrollment",
    "dispatch",
    "list_request_logs",
    "get_request_log",
    "get_usage",
    "list_recurrent_requests",
    "create_recurrent_request",
    "set_recurrent_request_status",
    "trigger_recurrent_request",
    "delete_recurrent_request",
}


def _tools(agent: McpSession) -> dict[str, Any]:
    return {tool.name: tool for tool in agent.run(agent.session.list_tools()).tools}


def test_every_tool_is_listed_with_a_typed_schema_and_a_description(agent: McpSession) -> None:
    tools = _tools(agent)
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.input_schema["type"] == "object"
        assert len(tool.description or "") > 60, tool.name
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"

    dispatch = tools["dispatch"].input_schema["properties"]
    assert dispatch["method"]["anyOf"][0]["enum"] == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    assert dispatch["max_body_chars"]["default"] == 16_000
    assert dispatch["max_body_chars"]["maximum"] == 200_000
    assert tools["get_service"].input_schema["required"] == ["service_id"]
    for name in ("enroll", "cancel_enrollment", "create_recurrent_request"):
        assert tools[name].input_schema["properties"]["confirm"]["default"] is False
    search = tools["search_services"].input_schema["properties"]["limit"]
    assert (search["minimum"], search["maximum"]) == (1, 100)


def test_annotations_tell_reads_from_changes(agent: McpSession) -> None:
    tools = _tools(agent)
    for name in ("search_services", "get_service", "list_request_logs", "get_usage"):
        assert tools[name].annotations.read_only_hint is True, name
    for name in ("cancel_enrollment", "delete_recurrent_request"):
        assert tools[name].annotations.destructive_hint is True, name
    assert tools["dispatch"].annotations.read_only_hint is False
    assert tools["dispatch"].annotations.open_world_hint is True


def test_the_server_introduces_itself(agent: McpSession) -> None:
    info = agent.session.server_info  # type: ignore[attr-defined]
    assert info.name == "unitysvc"
    instructions = agent.session.instructions  # type: ignore[attr-defined]
    assert "confirm=true" in instructions


def test_the_key_appears_in_no_answer_error_or_log(
    agent: McpSession, platform: LocalPlatform, api_key: str, server_log: Path
) -> None:
    small = service_id(platform, "demo-small")
    agent.ok("get_service", {"service_id": small})
    agent.ok("dispatch", {"service_id": small, "path": "models"})
    agent.error("get_service", {"service_id": "missing"})
    agent.error("dispatch", {"service_id": small, "json_body": {"k": api_key}, "path": "x"})
    agent.ok("enroll", {"service_id": service_id(platform, "demo-byok")})
    assert agent.transcript
    assert not [text for text in agent.transcript if api_key in text]
    log = server_log.read_text()
    assert "debug: " in log  # --debug logged every request...
    assert api_key not in log  # ...without the key
    assert api_key[:12] not in " ".join(agent.transcript)


def test_without_a_key_the_catalog_works_and_account_tools_say_what_to_set(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    with (tmp_path / "stderr.log").open("w") as errlog:
        anonymous = McpSession(["mcp"], {"UNITYSVC_API_URL": platform.api_url}, errlog).start()
        try:
            assert anonymous.ok("search_services", {"query": "echo"})["services"]
            message = anonymous.error("list_enrollments")
            assert "UNITYSVC_API_KEY" in message
            preview = anonymous.ok("enroll", {"service_id": service_id(platform, "demo-byok")})
            assert "no API key configured" in " ".join(preview["warnings"])
        finally:
            anonymous.close()


@pytest.fixture(scope="module")
def http_server(platform: LocalPlatform, api_key: str) -> Iterator[tuple[str, str]]:
    """``usvc mcp --http --port 0`` with a bearer token: (endpoint URL, token)."""
    token = "t0k3n-" + "x" * 32
    env = {
        **os.environ,
        "UNITYSVC_API_KEY": api_key,
        "UNITYSVC_API_URL": platform.api_url,
        "UNITYSVC_MCP_TOKEN": token,
    }
    env.pop("UNITYSVC_API_BASE_URL", None)
    proc = subprocess.Popen(
        [str(USVC), "mcp", "--http", "--port", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield _announced_url(proc), token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stderr is not None
        assert api_key not in proc.stderr.read()


def _announced_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = proc.stderr.readline()
        if not line:
            break  # the process ended
        seen += line
        marker = "serving streamable HTTP at "
        if marker in line:
            return line.split(marker, 1)[1].strip()
    raise AssertionError(f"usvc mcp --http did not announce its URL; stderr: {seen!r}")


async def test_streamable_http_serves_the_same_tools_behind_the_token(
    http_server: tuple[str, str], platform: LocalPlatform
) -> None:
    # The MCP SDK (and its httpx2) when the test runs: every pytest-xdist worker collects
    # this module, one runs it.
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url, token = http_server
    assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")

    async with httpx.AsyncClient() as raw:
        refused = await raw.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert refused.status_code == 401
    assert "UNITYSVC_MCP_TOKEN" in refused.text

    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        assert {tool.name for tool in tools.tools} == TOOLS
        result = await session.call_tool(
            "dispatch",
            {"group": "llm", "path": "chat/completions", "json_body": _chat("over http")},
        )
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        assert result.structured_content["body"]["model"] == "demo-small"
        assert result.structured_content["headers"]["x-unitysvc-service-id"] == service_id(
            platform, "demo-small"
        )


def _chat(text: str) -> dict[str, Any]:
    return {"model": "demo-small", "messages": [{"role": "user", "content": text}]}


def _usvc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UNITYSVC_")}
    return subprocess.run(
        [sys.executable, "-c", "from unitysvc.cli import main; main()", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_without_the_extra_usvc_mcp_says_what_to_install(tmp_path: Path) -> None:
    # A stand-in ``mcp`` package that fails to import, as when the extra is missing.
    (tmp_path / "mcp").mkdir()
    (tmp_path / "mcp" / "__init__.py").write_text("raise ImportError('No module named mcp')\n")
    done = _usvc("mcp", env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {MISSING_EXTRA}"
    assert 'pip install "unitysvc[mcp]"' in MISSING_EXTRA


def test_a_host_other_machines_reach_needs_a_token() -> None:
    done = _usvc("mcp", "--http", "--host", "0.0.0.0")
    assert done.returncode == 1
    assert "UNITYSVC_MCP_TOKEN" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_malformed_key_is_a_usage_error_naming_its_variable() -> None:
    done = _usvc("mcp", env={"UNITYSVC_API_KEY": "sk-not-ours-1234567890"})
    assert done.returncode == 2
    assert "$UNITYSVC_API_KEY" in done.stderr
    assert "sk-not-ours-1234567890" not in done.stderr


def test_a_port_in_use_is_one_error_line(platform: LocalPlatform) -> None:
    taken = platform.gateway_url.rsplit(":", 1)[1]
    done = _usvc("mcp", "--http", "--port", taken)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot serve on 127.0.0.1:{taken}: ")
    assert len(done.stderr.strip().splitlines()) == 1

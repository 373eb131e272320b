"""``unitysvc.mcp._results`` (pure units): the one place answers and errors leave the
server, and the key is scrubbed there whatever an upstream or the platform echoed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from unitysvc.exceptions import AuthenticationError, NotFoundError
from unitysvc.models import ServiceSummary

# unitysvc.mcp and the MCP SDK are imported by each test, not at collection: every
# pytest-xdist worker collects this module, one runs it.

KEY = "svcpass_" + "k" * 43


def test_results_scrub_the_key_from_text_and_structured_content() -> None:
    from mcp.types import TextContent

    from unitysvc.mcp._results import REDACTED, Output

    result = Output(KEY).result({"echo": f"Bearer {KEY}", "nested": [{"k": KEY}]})
    [block] = result.content
    assert isinstance(block, TextContent)
    assert KEY not in block.text
    assert result.structured_content == {
        "echo": f"Bearer {REDACTED}",
        "nested": [{"k": REDACTED}],
    }
    assert json.loads(block.text) == result.structured_content
    assert result.is_error is False


def test_a_list_result_is_wrapped_and_errors_are_marked() -> None:
    from unitysvc.mcp._results import Output

    result = Output(None).result([1, 2], is_error=True)
    assert result.structured_content == {"result": [1, 2]}
    assert result.is_error is True


def test_errors_scrub_the_key_and_anonymous_output_is_untouched() -> None:
    from unitysvc.mcp._results import REDACTED, Output

    assert str(Output(KEY).error(f"refused {KEY}")) == f"refused {REDACTED}"
    assert Output(None).scrub(f"x {KEY}") == f"x {KEY}"  # no key configured: nothing to hide


def test_jsonable_turns_sdk_values_into_plain_json() -> None:
    from unitysvc.mcp._results import jsonable

    model = ServiceSummary(id=UUID(int=1), name="svc", display_name=None)
    assert jsonable(model) == {"id": str(UUID(int=1)), "name": "svc"}
    when = datetime(2026, 4, 1, tzinfo=UTC)
    assert jsonable({"at": when, "price": Decimal("0.10"), "none": None}) == {
        "at": "2026-04-01T00:00:00+00:00",
        "price": "0.10",
    }


def test_describe_says_what_to_set_without_a_key_and_keeps_the_platforms_message() -> None:
    from unitysvc.mcp._results import Output

    out = Output(None)
    local = AuthenticationError("needs a key", status_code=401)
    assert "UNITYSVC_API_KEY" in out.describe(local)
    missing = NotFoundError("service x not found", status_code=404, response_body=b"{}")
    described = out.describe(missing)
    assert described.startswith("service x not found")
    assert "search_services" in described


async def test_guard_turns_sdk_errors_into_scrubbed_tool_errors() -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    from unitysvc.mcp._results import REDACTED, Output

    out = Output(KEY)

    async def leaky() -> None:
        raise NotFoundError(f"no {KEY}", status_code=404, response_body=b"{}")

    async def broken() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(ToolError) as caught:
        await out.guard(leaky)()
    assert KEY not in str(caught.value)
    assert REDACTED in str(caught.value)
    with pytest.raises(RuntimeError):  # a bug stays a crash (the MCP SDK hides its text)
        await out.guard(broken)()

"""What every tool returns: JSON results, tool errors, and the key scrubbed from both.

Every tool answer and every error message leaves the server through :class:`Output`,
so the one rule that matters most here, *the customer's API key never appears in
an answer*, is enforced in one place, whatever the platform or an upstream echoed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ResourceLink, TextContent

from unitysvc.exceptions import APIError, AuthenticationError, UnitysvcSDKError

__all__ = ["REDACTED", "Output", "jsonable"]

#: What replaces the API key wherever it would have appeared.
REDACTED = "svcpass_…(redacted)"

P = ParamSpec("P")
R = TypeVar("R")


def jsonable(value: Any) -> Any:
    """SDK results (models, records, pages) as plain JSON data.

    Args:
        value: A pydantic model, an SDK record (``.to_dict()``), a mapping, a list, or
            a scalar.

    Returns:
        The same data built of dicts, lists, strings, numbers, booleans and None.
    """
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    if hasattr(value, "to_dict") and hasattr(value, "record"):
        return jsonable(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class Output:
    """Builds tool results and tool errors with the API key scrubbed out.

    Attributes:
        api_key: The key the server acts with (None: anonymous, nothing to scrub).
    """

    api_key: str | None

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the API key replaced by :data:`REDACTED`."""
        if self.api_key and self.api_key in text:
            return text.replace(self.api_key, REDACTED)
        return text

    def result(
        self, data: Any, *, links: Iterable[ResourceLink] = (), is_error: bool = False
    ) -> CallToolResult:
        """A tool result: ``data`` as JSON text and as structured content.

        Args:
            data: JSON-ready data (see :func:`jsonable`).
            links: Resources the agent can read next (``resources/read``).
            is_error: Mark the result as a failed call (the data says why).
        """
        text = self.scrub(json.dumps(jsonable(data), ensure_ascii=False))
        structured = json.loads(text)
        content: list[TextContent | ResourceLink] = [TextContent(type="text", text=text)]
        content.extend(links)
        return CallToolResult(
            content=content,
            structured_content=structured
            if isinstance(structured, dict)
            else {"result": structured},
            is_error=is_error,
        )

    def error(self, message: str) -> ToolError:
        """A tool error (``isError`` result) carrying ``message``, key scrubbed."""
        return ToolError(self.scrub(message))

    def describe(self, exc: BaseException) -> str:
        """The platform's message for an SDK error, as one line an agent can act on."""
        if isinstance(exc, AuthenticationError) and exc.response_body is None:
            return (
                "this tool needs an API key: set UNITYSVC_API_KEY in the MCP server's "
                "environment (without a key only the catalog can be browsed)"
            )
        text = " ".join((str(exc) or type(exc).__name__).split())
        if isinstance(exc, AuthenticationError):
            text += " (check the MCP server's UNITYSVC_API_KEY)"
        elif isinstance(exc, APIError) and exc.status_code == 404:
            text += " (search_services and list_groups show what exists)"
        return text

    def guard(self, tool: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Turn the SDK's errors (and its local argument checks) into tool errors.

        Anything else still surfaces as the MCP SDK's generic "Error executing tool",
        its traceback logged on stderr: a bug, not a message for the agent.
        """

        @functools.wraps(tool)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await tool(*args, **kwargs)
            except ToolError as exc:
                raise self.error(str(exc)) from None
            except (UnitysvcSDKError, ValueError, TimeoutError) as exc:
                raise self.error(self.describe(exc)) from None

        return guarded

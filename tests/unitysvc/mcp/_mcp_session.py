"""An MCP client session with a ``usvc mcp`` subprocess, usable from synchronous tests.

The session lives in a thread of its own (an event loop holding the official SDK's
``stdio_client`` + ``ClientSession`` open), so tests stay synchronous and the
subprocess starts once per module, not per test. Every answer a test sees is kept in
:attr:`McpSession.transcript`, so a module can check the API key never appeared.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    # The MCP SDK is imported when a session starts, not at collection: every
    # pytest-xdist worker collects these modules, one runs them.
    from mcp import ClientSession
    from mcp.types import CallToolResult

    from unitysvc_server.testing import LocalPlatform

#: The ``usvc`` console script of this environment.
USVC = Path(sys.executable).with_name("usvc")
#: Longest wait for one MCP request (tool calls include real gateway round trips).
CALL_TIMEOUT = 60.0

T = TypeVar("T")


class McpSession:
    """An MCP client session with a ``usvc mcp`` subprocess, usable from sync code.

    Args:
        args: ``usvc`` arguments (e.g. ``["--debug", "mcp"]``).
        env: Environment of the subprocess (added to the MCP SDK's safe defaults).
        errlog: Where the subprocess's stderr goes.
    """

    def __init__(self, args: list[str], env: dict[str, str], errlog: IO[str]) -> None:
        from mcp import StdioServerParameters

        self._params = StdioServerParameters(command=str(USVC), args=args, env=env)
        self._errlog = errlog
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._session: ClientSession | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._hold(),))
        #: The text of every answer and error seen, in order.
        self.transcript: list[str] = []

    async def _hold(self) -> None:
        from mcp import ClientSession
        from mcp.client.stdio import stdio_client

        self._stop = asyncio.Event()
        try:
            async with (
                stdio_client(self._params, errlog=self._errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                self._session = session
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # reported to the test thread by start()
            self._failure = exc
        finally:
            self._ready.set()

    def start(self) -> McpSession:
        """Start the subprocess and complete the MCP handshake."""
        self._thread.start()
        if not self._ready.wait(CALL_TIMEOUT) or self._session is None:
            raise RuntimeError(f"usvc mcp did not start: {self._failure!r}")
        return self

    def close(self) -> None:
        """End the session; the subprocess exits when its stdin closes."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(CALL_TIMEOUT)
        self._loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one session coroutine on the session's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    @property
    def session(self) -> ClientSession:
        """The MCP client session (call its coroutines through :meth:`run`)."""
        assert self._session is not None
        return self._session

    def call(self, tool: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        """Call a tool; the answer (error or not) is added to the transcript."""
        result = self.run(self.session.call_tool(tool, arguments or {}))
        self.transcript.extend(block.model_dump_json() for block in result.content)
        if result.structured_content is not None:
            self.transcript.append(json.dumps(result.structured_content))
        return result

    def ok(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool, assert it succeeded, and return its structured content."""
        result = self.call(tool, arguments)
        assert not result.is_error, f"{tool} failed: {error_text(result)}"
        assert result.structured_content is not None
        return result.structured_content

    def error(self, tool: str, arguments: dict[str, Any] | None = None) -> str:
        """Call a tool, assert it answered a tool error (``isError``), return its text."""
        result = self.call(tool, arguments)
        assert result.is_error, f"{tool} succeeded: {result.structured_content}"
        return error_text(result)


def error_text(result: CallToolResult) -> str:
    """The text of a tool result's content blocks."""
    return " ".join(getattr(block, "text", "") for block in result.content)


def service_id(platform: LocalPlatform, name: str) -> str:
    """A demo catalog service's id, looked up with the SDK."""
    with platform.client() as client:
        for service in client.groups.iter_services("all_services", search=name):
            if service.name == name:
                return str(service.id)
    raise LookupError(name)


def chat(model: str, text: str) -> dict[str, Any]:
    """An OpenAI-style chat completion body."""
    return {"model": model, "messages": [{"role": "user", "content": text}]}

"""``usvc mcp``: the UnitySVC marketplace as a Model Context Protocol server.

Agents (Claude Desktop, IDEs, any MCP client) search the catalog, read a service's
price, access plan and examples, enroll, call services through the gateway, and read
back the request log and the cycle's usage, all through :class:`unitysvc.AsyncClient`
with the customer's key from ``UNITYSVC_API_KEY``.

Needs the ``mcp`` extra (``pip install "unitysvc[mcp]"``). Run it with ``usvc mcp``
(stdio) or ``usvc mcp --http`` (streamable HTTP); build it in code with
:func:`build_server`.
"""

from __future__ import annotations

from unitysvc.mcp.server import build_server, run_http, run_stdio

__all__ = ["build_server", "run_http", "run_stdio"]

"""The MCP server: every tool and resource over one SDK client, on stdio or HTTP.

Built on the official ``mcp`` SDK's :class:`~mcp.server.mcpserver.MCPServer`; the
tools live in :mod:`~unitysvc.mcp.catalog`, :mod:`~unitysvc.mcp.account`,
:mod:`~unitysvc.mcp.gateway` and :mod:`~unitysvc.mcp.schedules`, and call only the
public SDK (:class:`unitysvc.AsyncClient`).
"""

from __future__ import annotations

import hmac
import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer

from unitysvc._constants import ENV_MCP_TOKEN
from unitysvc._version import __version__
from unitysvc.mcp import account, catalog, gateway, schedules
from unitysvc.mcp._results import Output
from unitysvc.mcp._toolbox import Toolbox

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from unitysvc import AsyncClient

__all__ = ["HTTP_PATH", "INSTRUCTIONS", "build_server", "run_http", "run_stdio"]

#: The path of the streamable HTTP endpoint.
HTTP_PATH = "/mcp"

INSTRUCTIONS = """\
UnitySVC is a marketplace of AI and API services behind one gateway and one API key.
Find services with search_services and list_groups; read get_service (price, access
plan, code examples) before calling one; call it with dispatch, which spends money at
the service's price. enroll, cancel_enrollment, create_recurrent_request and
delete_recurrent_request change the account: without confirm=true they only preview
what would happen. Check the result with list_request_logs and get_usage. Never ask
for or pass secret values (API keys): the user sets secrets outside this conversation.
"""


def build_server(client: AsyncClient) -> MCPServer[Any]:
    """The MCP server of ``client``: every tool and the document resources.

    Args:
        client: The SDK client the tools call; the caller closes it.

    Returns:
        The server, not yet running.
    """
    server: MCPServer[Any] = MCPServer(
        "unitysvc",
        title="UnitySVC marketplace",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    box = Toolbox(client, Output(client.api_key))
    for module in (catalog, account, gateway, schedules):
        module.register(server, box)
    return server


async def run_stdio(client: AsyncClient) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    await build_server(client).run_stdio_async()


class _RequireToken:
    """Pure ASGI guard: HTTP requests must carry ``Authorization: Bearer <token>``.

    Written by hand because the MCP SDK's own auth expects an OAuth authorization
    server; a shared secret is what a single-user server on a LAN needs.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = json.dumps(
                    {"error": f"missing or wrong bearer token (the server's {ENV_MCP_TOKEN})"}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self._app(scope, receive, send)


async def run_http(
    client: AsyncClient,
    *,
    host: str,
    port: int,
    token: str | None,
    announce: Callable[[str], None],
) -> None:
    """Serve MCP over streamable HTTP at ``http://host:port/mcp`` until interrupted.

    Args:
        client: The SDK client the tools call.
        host: Address to listen on.
        port: Port (0: any free port; ``announce`` says which).
        token: Bearer token every request must carry (None: none required).
        announce: Called once with the endpoint URL when the server listens.
    """
    import uvicorn

    app: ASGIApp = build_server(client).streamable_http_app(
        streamable_http_path=HTTP_PATH, host=host
    )
    if token:
        app = _RequireToken(app, token)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        # Listening before the announcement: a client that connects at once waits in
        # the backlog until uvicorn accepts, instead of being refused.
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    announce(f"http://{shown}:{bound}{HTTP_PATH}")
    with sock:
        await server.serve(sockets=[sock])

"""``usvc mcp``: serve the marketplace to AI agents over the Model Context Protocol.

Imports nothing of the ``mcp`` extra until the command runs, so ``usvc --help`` and
``usvc mcp --help`` work without it, and running it without says what to install.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from importlib.util import find_spec
from typing import Annotated

import typer

from unitysvc._constants import ENV_MCP_TOKEN
from unitysvc.cli._context import build_client, current_settings
from unitysvc.cli._output import examples, fail

__all__ = ["EPILOG", "MISSING_EXTRA", "is_loopback", "mcp"]

#: The one line ``usvc mcp`` prints when the ``mcp`` extra is not installed.
MISSING_EXTRA = 'usvc mcp needs the MCP SDK: pip install "unitysvc[mcp]"'

EPILOG = examples(
    "UNITYSVC_API_KEY=svcpass_… usvc mcp",
    "usvc mcp --http --port 8765",
    "UNITYSVC_MCP_TOKEN=$(openssl rand -hex 32) usvc mcp --http --host 0.0.0.0",
)


def _installed() -> bool:
    try:
        return find_spec("mcp.server.mcpserver") is not None
    except ImportError:  # the parent package is missing
        return False


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _announce(url: str) -> None:
    # stderr: on stdio, stdout is the protocol; here it keeps one place for status.
    print(f"usvc mcp: serving streamable HTTP at {url}", file=sys.stderr, flush=True)


def mcp(
    http: Annotated[
        bool,
        typer.Option(
            "--http", help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio."
        ),
    ] = False,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="With --http: address to listen on. Other than loopback, UNITYSVC_MCP_TOKEN "
            "must be set (clients then send it as a bearer token).",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="With --http: port (0: any free one)."),
    ] = 8765,
) -> None:
    """Serve the marketplace to AI agents (MCP): search, enroll, dispatch, logs, usage.

    Speaks the Model Context Protocol on stdin/stdout (what desktop agents launch),
    or streamable HTTP with --http. The tools act with your API key
    (UNITYSVC_API_KEY or --api-key), which never appears in their answers.
    """
    if not _installed():
        fail(MISSING_EXTRA)
    token = os.environ.get(ENV_MCP_TOKEN) or None
    if http and not is_loopback(host) and token is None:
        fail(
            f"--host {host} accepts connections from other machines, which would act "
            f"with your API key: set {ENV_MCP_TOKEN} to a long random token first"
        )
    from unitysvc import AsyncClient

    # Built (and its key checked) before the event loop starts; opened inside it.
    sdk = build_client(current_settings(), AsyncClient)

    import anyio

    from unitysvc.mcp.server import run_http, run_stdio

    async def serve() -> None:
        async with sdk as client:
            if http:
                await run_http(client, host=host, port=port, token=token, announce=_announce)
            else:
                await run_stdio(client)

    try:
        anyio.run(serve)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        if not http:
            raise
        fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")

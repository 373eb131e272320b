"""``usvc server ...``: run the platform and administer customer keys.

The lead mounts :data:`server_app` under ``usvc server``; ``python -m
unitysvc_server`` runs the same app on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from unitysvc_server.config import (
    DEFAULT_CLIENT_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_HEADERS_BYTES,
    DEFAULT_MAX_REQUEST_LINE_BYTES,
    Settings,
    SettingsError,
)
from unitysvc_server.domain.errors import DomainError

server_app = typer.Typer(
    name="server",
    help="Run a self-hosted UnitySVC platform and manage its customer keys.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list and revoke customer API keys.", no_args_is_help=True)
server_app.add_typer(keys_app, name="keys")
customers_app = typer.Typer(help="Delete customers.", no_args_is_help=True)
server_app.add_typer(customers_app, name="customers")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="UNITYSVC_DATA_DIR",
        help="Data directory (SQLite database, secret key, files). Default: ~/.unitysvc/server.",
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="UNITYSVC_DATABASE_URL",
        help="postgresql+asyncpg://user@host/db (default: SQLite in the data dir).",
    ),
]
RedisUrlOption = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        envvar="UNITYSVC_REDIS_URL",
        help="redis://... shared by the servers: caches, rate limits, invalidations.",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code=2)


def _settings(**values: Any) -> Settings:
    cleaned = {k: v for k, v in values.items() if v is not None}
    try:
        return Settings(**cleaned)
    except SettingsError as exc:
        raise _fail(str(exc)) from None


def _parse_pairs(pairs: list[str], option: str, example: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for pair in pairs:
        left, sep, right = pair.partition("=")
        if not sep or not left or not right:
            shape = "ORIGIN=LOCAL" if option == "--upstream-map" else "HOST=ADDRESS"
            raise _fail(f"{option} {pair!r}: use {shape}, e.g. {example}")
        parsed[left] = right
    return parsed


def _graceful_server_class() -> type[Any]:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """A uvicorn server whose process exits 0 after a signal-initiated shutdown.

        uvicorn turns SIGINT/SIGTERM into a graceful shutdown (the lifespan
        stops every component), then re-raises the signal, so Ctrl-C ends in
        "Aborted!" and SIGTERM in "killed by signal". After an orderly stop the
        CLI should simply succeed.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return GracefulServer


@server_app.command()
def start(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind (0: any free port).")] = 8000,
    data_dir: DataDirOption = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo catalog with its mock upstreams.")
    ] = False,
    catalog: Annotated[
        list[Path] | None,
        typer.Option("--catalog", help="Seller catalog directory (repeatable)."),
    ] = None,
    groups: Annotated[
        Path | None, typer.Option("--groups", help="Groups TOML file (groups, routing).")
    ] = None,
    database_url: DatabaseUrlOption = None,
    redis_url: RedisUrlOption = None,
    secret_key: Annotated[
        str | None,
        typer.Option(
            "--secret-key",
            envvar="UNITYSVC_SECRET_KEY",
            show_envvar=True,
            help="Fernet key encrypting secrets at rest (default: generated into the data dir).",
        ),
    ] = None,
    upstream_map: Annotated[
        list[str] | None,
        typer.Option("--upstream-map", help="ORIGIN=LOCAL upstream redirect (repeatable)."),
    ] = None,
    allow_private_upstreams: Annotated[
        bool | None,
        typer.Option(
            "--allow-private-upstreams/--deny-private-upstreams",
            help="Let the gateway connect to loopback, private and other non-public "
            "upstream addresses (BYOE and catalog channels; --upstream-map targets are "
            "always reachable). Default: allowed with --demo, denied otherwise.",
        ),
    ] = None,
    resolve: Annotated[
        list[str] | None,
        typer.Option(
            "--resolve",
            help="HOST=ADDRESS: connect to ADDRESS for upstream HOST instead of asking DNS "
            "(repeatable); the address is still subject to the private-upstream policy.",
        ),
    ] = None,
    public_url: Annotated[
        str | None, typer.Option("--public-url", help="Externally visible root URL.")
    ] = None,
    rate_limit_rps: Annotated[
        float | None,
        typer.Option(
            "--rate-limit-rps",
            help="Per-customer gateway requests per second (token bucket; shared by "
            "every server through --redis-url when given). Off by default.",
        ),
    ] = None,
    rate_limit_burst: Annotated[
        int, typer.Option("--rate-limit-burst", help="Requests a customer may burst.")
    ] = 20,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Do not fire recurrent requests.")
    ] = False,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", help="Largest accepted API request body.")
    ] = DEFAULT_MAX_BODY_BYTES,
    max_request_line_bytes: Annotated[
        int,
        typer.Option(
            "--max-request-line-bytes", help="Longest request line (method and URL); 414 above."
        ),
    ] = DEFAULT_MAX_REQUEST_LINE_BYTES,
    max_header_bytes: Annotated[
        int, typer.Option("--max-header-bytes", help="Longest single header; 431 above.")
    ] = DEFAULT_MAX_HEADER_BYTES,
    max_headers_bytes: Annotated[
        int,
        typer.Option("--max-headers-bytes", help="Most header bytes per request; 431 above."),
    ] = DEFAULT_MAX_HEADERS_BYTES,
    max_header_count: Annotated[
        int, typer.Option("--max-header-count", help="Most headers per request; 431 above.")
    ] = DEFAULT_MAX_HEADER_COUNT,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections",
            help="Most client connections at once; more are answered 503 and closed.",
        ),
    ] = DEFAULT_MAX_CONNECTIONS,
    client_timeout: Annotated[
        float,
        typer.Option(
            "--client-timeout",
            help="Seconds a client has to send a request's headers (408 after), and the "
            "longest it may pause while sending a body (slowloris).",
        ),
    ] = DEFAULT_CLIENT_TIMEOUT,
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token",
            envvar="UNITYSVC_ADMIN_TOKEN",
            show_envvar=True,
            help="Turn on the operator API under /v1/admin/ (revoke keys, delete "
            "customers), authenticated with this bearer token. Off by default.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """Start the platform: control-plane API under /v1 and the gateway at the root."""
    import logging

    import uvicorn

    from unitysvc_server.app import create_app
    from unitysvc_server.serving import uvicorn_options

    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted connections: no Nagle delay on small responses.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # A demo runs its fakes on loopback; anything else guards against SSRF by default.
    allow_private = demo if allow_private_upstreams is None else allow_private_upstreams
    settings = _settings(
        host=host,
        port=sock.getsockname()[1],
        data_dir=data_dir,
        demo=demo,
        catalogs=tuple(catalog or ()),
        groups_file=groups,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        upstreams=_parse_pairs(
            upstream_map or [], "--upstream-map", "https://api.groq.com=http://127.0.0.1:9001"
        ),
        allow_private_upstreams=allow_private,
        resolve=_parse_pairs(resolve or [], "--resolve", "api.example.com=203.0.113.7"),
        public_url=public_url,
        rate_limit_rps=rate_limit_rps,
        rate_limit_burst=rate_limit_burst,
        scheduler_enabled=not no_scheduler,
        max_body_bytes=max_body_bytes,
        admin_token=admin_token,
        max_request_line_bytes=max_request_line_bytes,
        max_header_bytes=max_header_bytes,
        max_headers_bytes=max_headers_bytes,
        max_header_count=max_header_count,
        max_connections=max_connections,
        client_timeout=client_timeout,
        log_level=log_level,
    )
    logging.basicConfig(
        level=settings.log_level_number,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    app = create_app(settings)
    typer.echo(f"UnitySVC platform (data: {settings.data_dir})")
    typer.echo(f"  API:     {settings.api_url}")
    typer.echo(f"  Gateway: {settings.gateway_url}")
    typer.echo(f"  Docs:    {settings.gateway_url}/docs")
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=10,
        **uvicorn_options(settings),
    )
    server = _graceful_server_class()(config)
    server.run(sockets=[sock])
    if app.runtime.startup_error is not None:
        raise typer.Exit(code=1)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Customer name (created if new).")],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Issue a new svcpass_ key; it is printed once and only its hash is stored."""
    from unitysvc_server import keys

    settings = _settings(data_dir=data_dir, database_url=database_url)
    try:
        key = asyncio.run(keys.create_key(settings, name))
    except DomainError as exc:
        raise _fail(exc.detail) from None
    typer.echo(key)
    typer.echo(f"Key for customer {name!r}. Store it now: it cannot be shown again.", err=True)


@keys_app.command("list")
def keys_list(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (their first characters only), customers and status."""
    from unitysvc_server import keys

    settings = _settings(data_dir=data_dir, database_url=database_url)
    infos = asyncio.run(keys.list_keys(settings))
    if as_json:
        rows = [
            {
                "hint": info.hint,
                "customer": info.customer_name,
                "customer_id": str(info.customer_id),
                "created_at": info.created_at.isoformat(),
                "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
            }
            for info in infos
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not infos:
        typer.echo("No keys. Create one with: usvc server keys create --name NAME")
        return
    typer.echo(f"{'KEY':<16} {'CUSTOMER':<24} {'CREATED':<20} STATUS")
    for info in infos:
        status = "revoked" if info.revoked_at else "active"
        created = info.created_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{info.hint + '…':<16} {info.customer_name:<24} {created:<20} {status}")


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[
        str | None, typer.Argument(help="The key, or its first characters as `keys list` shows.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Revoke every key of this customer.")
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    redis_url: RedisUrlOption = None,
) -> None:
    """Revoke one key, or all keys of a customer; running servers answer 401 to it at once.

    Servers sharing the database are told through it (and through --redis-url when
    given) before this command returns.
    """
    from unitysvc_server import keys

    if (key is None) == (name is None):
        raise _fail("give a KEY (or its listed prefix) or --name NAME, not both")
    settings = _settings(data_dir=data_dir, database_url=database_url, redis_url=redis_url)
    try:
        count = asyncio.run(keys.revoke(settings, key=key.rstrip("…") if key else None, name=name))
    except DomainError as exc:
        raise _fail(exc.detail) from None
    typer.echo(f"Revoked {count} key{'s' if count != 1 else ''}.")


@customers_app.command("delete")
def customers_delete(
    name: Annotated[str, typer.Argument(help="The customer's name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    redis_url: RedisUrlOption = None,
) -> None:
    """Delete a customer: its keys (refused at once by running servers), every row it
    owns (secrets, enrollments, aliases, schedules, logs...) and its stored files."""
    from unitysvc_server import keys

    if not yes and not typer.confirm(f"Delete customer {name!r} and everything it owns?"):
        raise typer.Exit(code=1)
    settings = _settings(data_dir=data_dir, database_url=database_url, redis_url=redis_url)
    try:
        deleted = asyncio.run(keys.delete_customer(settings, name))
    except DomainError as exc:
        raise _fail(exc.detail) from None
    rows = sum(deleted.rows.values())
    typer.echo(f"Deleted customer {name!r} ({deleted.id}) and {rows} row(s) it owned.")

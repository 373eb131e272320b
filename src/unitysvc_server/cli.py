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

from unitysvc_server.cli_embedded import dev_cluster, start_on_embedded
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
server_app.command("dev-cluster")(dev_cluster)
customers_app = typer.Typer(help="Delete customers.", no_args_is_help=True)
server_app.add_typer(customers_app, name="customers")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="UNITYSVC_DATA_DIR",
        metavar="DIR",
        help="SQLite database, secret key and files. Default: ~/.unitysvc/server.",
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="UNITYSVC_DATABASE_URL",
        metavar="URL",
        help="PostgreSQL, e.g. postgresql+asyncpg://u@h/db. Default: SQLite in the data dir.",
    ),
]
RedisUrlOption = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        envvar="UNITYSVC_REDIS_URL",
        metavar="URL",
        help="redis://host:6379/0, shared by several servers (rate limits, cache, invalidations).",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code=code)


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

        #: Called once the platform serves (not when its start-up failed).
        started_callback: Any = None

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit and self.started_callback is not None:
                self.started_callback()

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
    host: Annotated[str, typer.Option(metavar="ADDR", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Port to bind (0: any free port).")
    ] = 8000,
    data_dir: DataDirOption = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo catalog with its mock upstreams.")
    ] = False,
    catalog: Annotated[
        list[Path] | None,
        typer.Option("--catalog", metavar="DIR", help="Seller catalog directory (repeatable)."),
    ] = None,
    groups: Annotated[
        Path | None,
        typer.Option("--groups", metavar="FILE", help="Groups TOML file (groups, routing)."),
    ] = None,
    database_url: DatabaseUrlOption = None,
    redis_url: RedisUrlOption = None,
    secret_key: Annotated[
        str | None,
        typer.Option(
            "--secret-key",
            envvar="UNITYSVC_SECRET_KEY",
            show_envvar=True,
            metavar="KEY",
            help="Fernet key encrypting secrets at rest. Default: generated into the data dir.",
        ),
    ] = None,
    upstream_map: Annotated[
        list[str] | None,
        typer.Option(
            "--upstream-map",
            metavar="MAP",
            help="ORIGIN=LOCAL: send calls for ORIGIN to LOCAL instead (repeatable).",
        ),
    ] = None,
    resolve: Annotated[
        list[str] | None,
        typer.Option(
            "--resolve",
            metavar="PIN",
            help="HOST=ADDRESS: connect to ADDRESS for upstream HOST instead of asking DNS "
            "(repeatable); ADDRESS is still vetted against private addresses.",
        ),
    ] = None,
    # Two flags rather than one ``--allow-…/--deny-…`` pair: Rich gives the pair's
    # second name its own column, which leaves the help text no room at 80 columns.
    allow_private_upstreams: Annotated[
        bool,
        typer.Option(
            "--allow-private-upstreams",
            help="Let the gateway connect to private, loopback and other non-public "
            "upstream addresses (the default with --demo).",
        ),
    ] = False,
    deny_private_upstreams: Annotated[
        bool,
        typer.Option(
            "--deny-private-upstreams",
            help="Refuse them, even with --demo (the default otherwise).",
        ),
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", metavar="URL", help="Externally visible root URL."),
    ] = None,
    rate_limit_rps: Annotated[
        float | None,
        typer.Option(
            "--rate-limit-rps",
            metavar="RPS",
            help="Per-customer gateway requests per second (shared through --redis-url). "
            "Off by default.",
        ),
    ] = None,
    rate_limit_burst: Annotated[
        int,
        typer.Option("--rate-limit-burst", metavar="N", help="Requests a customer may burst."),
    ] = 20,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Do not fire recurrent requests.")
    ] = False,
    max_body_bytes: Annotated[
        int,
        typer.Option(
            "--max-body-bytes", metavar="BYTES", help="Largest accepted API request body."
        ),
    ] = DEFAULT_MAX_BODY_BYTES,
    max_request_line_bytes: Annotated[
        int,
        typer.Option(
            "--max-request-line-bytes",
            metavar="BYTES",
            help="Longest request line (method and URL); 414 above.",
        ),
    ] = DEFAULT_MAX_REQUEST_LINE_BYTES,
    max_header_bytes: Annotated[
        int,
        typer.Option("--max-header-bytes", metavar="BYTES", help="Longest header; 431 above."),
    ] = DEFAULT_MAX_HEADER_BYTES,
    max_headers_bytes: Annotated[
        int,
        typer.Option(
            "--max-headers-bytes", metavar="BYTES", help="Most header bytes per request; 431 above."
        ),
    ] = DEFAULT_MAX_HEADERS_BYTES,
    max_header_count: Annotated[
        int,
        typer.Option(
            "--max-header-count", metavar="N", help="Most headers per request; 431 above."
        ),
    ] = DEFAULT_MAX_HEADER_COUNT,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections",
            metavar="N",
            help="Most client connections at once; more are answered 503 and closed.",
        ),
    ] = DEFAULT_MAX_CONNECTIONS,
    client_timeout: Annotated[
        float,
        typer.Option(
            "--client-timeout",
            metavar="SECONDS",
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
            metavar="TOKEN",
            help="Turn on the operator API under /v1/admin/ (revoke keys, delete "
            "customers), authenticated with this bearer token. Off by default.",
        ),
    ] = None,
    metrics: Annotated[
        bool,
        typer.Option(
            "--metrics",
            help="Serve GET /metrics (Prometheus text format) to the --admin-token bearer. "
            "Off by default.",
        ),
    ] = False,
    metrics_public: Annotated[
        bool,
        typer.Option(
            "--metrics-public",
            help="With --metrics: serve /metrics without a token (a private network only).",
        ),
    ] = False,
    otel_endpoint: Annotated[
        str | None,
        typer.Option(
            "--otel-endpoint",
            envvar="UNITYSVC_OTEL_ENDPOINT",
            metavar="URL",
            help="Send OpenTelemetry traces of gateway calls to this OTLP/HTTP collector "
            "(e.g. http://127.0.0.1:4318; needs the 'otel' extra). Off by default.",
        ),
    ] = None,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level",
            metavar="LEVEL",
            help="debug, info, warning or error (debug also shows start-up tracebacks).",
        ),
    ] = "info",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            help="Server processes on the one port (caches kept in step across them; "
            "rate limits and memoized answers are per process unless --redis-url).",
        ),
    ] = 1,
    embedded_postgres: Annotated[
        bool,
        typer.Option(
            "--embedded-postgres",
            help="Run on a throwaway PostgreSQL started for this run (the 'embedded' "
            "extra); its data is deleted on exit.",
        ),
    ] = False,
    embedded_redis: Annotated[
        bool,
        typer.Option(
            "--embedded-redis",
            help="Run with a throwaway Valkey (Redis) started for this run (the 'embedded' extra).",
        ),
    ] = False,
) -> None:
    """Start the platform: control-plane API under /v1 and the gateway at the root."""
    if embedded_postgres or embedded_redis:
        # This same command again, on the servers it asked for (they stop when it ends).
        start_on_embedded(start, dict(locals()))
        return
    import logging

    from unitysvc_server.workers import reuseport_sockets

    try:
        sockets = reuseport_sockets(host, port, workers) if workers > 1 else [_bound(host, port)]
    except OSError as exc:
        raise _fail(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port (0: any "
            "free port) or stop what is listening there"
        ) from None
    if allow_private_upstreams and deny_private_upstreams:
        raise _fail("give --allow-private-upstreams or --deny-private-upstreams, not both")
    # A demo runs its fakes on loopback; anything else guards against SSRF by default.
    allow_private = (demo or allow_private_upstreams) and not deny_private_upstreams
    settings = _settings(
        host=host,
        port=sockets[0].getsockname()[1],
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
        workers=workers,
        metrics=metrics,
        metrics_public=metrics_public,
        otel_endpoint=otel_endpoint,
    )
    logging.basicConfig(
        level=settings.log_level_number,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.log_level.lower() != "debug":
        # Alembic announces each migration step at INFO; only its problems matter here.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    # Before the app is built (most of a start's CPU): a database that cannot be reached
    # or migrated fails the command at once, and workers do not race to migrate it.
    _migrate_once(settings)
    if workers == 1:
        _serve(settings, sockets[0], announce=True)
        return
    from unitysvc_server.workers import run_workers

    _preload()
    status = run_workers(sockets, lambda index, sock: _serve(settings, sock, announce=index == 0))
    if status:
        raise typer.Exit(code=status)


def _bound(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted connections: no Nagle delay on small responses.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _migrate_once(settings: Settings) -> None:
    """Bring the schema to head before the app starts (its own migration finds it done)."""
    from unitysvc_server.startup_errors import describe_startup_error
    from unitysvc_server.storage import db

    async def migrate() -> None:
        engine = db.engine_for(settings)
        try:
            await db.migrate(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(migrate())
    except Exception as exc:
        raise _fail(describe_startup_error(exc, settings.resolved_database_url), code=1) from None


def _preload() -> None:
    """Import what every worker runs, once, before the fork.

    Importing the app (FastAPI building its routes, the wire models) is most of a worker's
    start-up CPU; done in the parent, each forked worker inherits it instead of repeating
    it, and the workers share those pages until they write to them. Nothing imported here
    starts a thread or opens a connection, so nothing is shared that a fork would break.
    """
    import uvicorn  # noqa: F401

    import unitysvc_server.app
    import unitysvc_server.serving  # noqa: F401


def _serve(settings: Settings, sock: socket.socket, *, announce: bool) -> None:
    """Build the platform and serve ``sock`` until a signal; ``announce``: print the banner."""
    import logging

    import uvicorn

    from unitysvc_server.app import create_app
    from unitysvc_server.serving import uvicorn_options
    from unitysvc_server.startup_errors import describe_startup_error

    database_url = settings.resolved_database_url
    try:
        app = create_app(settings)
    except Exception as exc:
        raise _fail(describe_startup_error(exc, database_url), code=1) from None

    def banner() -> None:
        workers = f", {settings.workers} workers" if settings.workers > 1 else ""
        typer.echo(f"UnitySVC platform (data: {settings.data_dir}{workers})")
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
    debug = settings.log_level.lower() == "debug"
    if not debug:
        # The banner says where the platform serves, once it does; a start-up
        # failure is one line below, not uvicorn's traceback (--log-level debug
        # shows it).
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.setLevel(max(logging.WARNING, settings.log_level_number))
        uvicorn_log.addFilter(lambda _record: app.runtime.startup_error is None)
    server = _graceful_server_class()(config)
    if announce:
        server.started_callback = banner
    try:
        server.run(sockets=[sock])
    except SystemExit:
        if app.runtime.startup_error is None:
            raise
    if app.runtime.startup_error is not None:
        raise _fail(describe_startup_error(app.runtime.startup_error, database_url), code=1)


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

"""Run a real platform on loopback: ``LocalPlatform``, the platform's public entry in Python.

::

    from unitysvc_server.local_platform import LocalPlatform

    with LocalPlatform(demo=True) as platform:
        key = platform.create_customer("alice")
        with platform.client(key) as client:
            ...

What ``usvc demo`` runs, and what the test suite runs (the tests import it as
``unitysvc_server.testing.LocalPlatform``). The platform listens on a free ``127.0.0.1``
port with a temporary data directory (removed on exit unless ``data_dir`` was given). By
default it runs in a background thread of the calling process; ``process=True`` runs it as
a separate ``python -m unitysvc_server start`` process instead (what a crash test needs:
:meth:`LocalPlatform.kill` sends it ``SIGKILL``).

PostgreSQL: when ``database_url`` is not given and the environment variable
``UNITYSVC_TEST_DATABASE_URL`` names a PostgreSQL server, each platform gets a
fresh database on that server, dropped when the platform is closed. That is how
the whole test suite runs against PostgreSQL in CI.

A platform's fresh database (the SQLite file of its temporary data directory, or
its fresh PostgreSQL database) starts as a copy of one migrated once per process
(:func:`migrated_template`): migrating costs every platform 0.05-2 s otherwise. The
server still runs its migrations at start; they find the schema at head.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from unitysvc_server.config import Settings

if TYPE_CHECKING:
    from uvicorn import Server

    import unitysvc
    from unitysvc_server.app import PlatformApp

__all__ = [
    "TEST_DATABASE_ENV",
    "LocalPlatform",
    "cli_arguments",
    "fresh_postgres_database",
    "migrated_template",
    "run_sync",
]

#: Environment variable naming a PostgreSQL server for the test suite.
TEST_DATABASE_ENV = "UNITYSVC_TEST_DATABASE_URL"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a private loop in a helper thread.

    Works from plain code and from inside a running event loop (async tests),
    where :func:`asyncio.run` would refuse.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="unitysvc-run-sync")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def _bind_free_port(host: str, port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY from the listener (Linux); without it the
    # asyncio loop leaves Nagle on for sockets it did not create, and every small
    # response waits ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


async def _admin(server_url: str, statement: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@contextlib.contextmanager
def fresh_postgres_database(server_url: str, *, template: str | None = None) -> Iterator[str]:
    """Create a uniquely named database on ``server_url``'s server; drop it on exit.

    Args:
        server_url: ``postgresql+asyncpg://user@host:port/existing_db``; the
            existing database is only used to issue CREATE/DROP DATABASE.
        template: Name of a database on that server to copy (``CREATE DATABASE ...
            TEMPLATE``; nobody may be connected to it), e.g. ``migrated_template(url)``;
            default an empty database.

    Yields:
        The URL of the new database.
    """
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    name = f"usvc_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template is not None else ""
    run_sync(_admin(server_url, f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        run_sync(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    from unitysvc_server.storage import db

    engine = db.create_engine(url)
    try:
        await db.migrate(engine)
    finally:
        await engine.dispose()  # a template must have nobody connected


def _drop_template(server_url: str, name: str) -> None:
    # At exit, best effort: a throwaway server (the embedded one of a test run) may
    # already be gone, and the template with it.
    with contextlib.suppress(Exception):
        run_sync(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_templates: dict[str, str] = {}
_templates_lock = threading.Lock()


def migrated_template(server_url: str | None = None) -> str:
    """A database at the newest schema revision, made once per process, to copy.

    The schema comes from this process's own migrations, so a template is never
    behind the code that copies it. Removed when the process exits.

    Args:
        server_url: A PostgreSQL server (as for :func:`fresh_postgres_database`);
            ``None`` for SQLite.

    Returns:
        The template's name on that server (for ``fresh_postgres_database(template=)``),
        or the path of the SQLite file (copy it as a new data dir's ``unitysvc.db``).
    """
    key = server_url or "sqlite"
    with _templates_lock:
        if key in _templates:
            return _templates[key]
        if server_url is None:
            directory = Path(tempfile.mkdtemp(prefix="unitysvc-template-"))
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            path = directory / "unitysvc.db"
            run_sync(_migrate(f"sqlite+aiosqlite:///{path}"))
            _templates[key] = str(path)
        else:
            from sqlalchemy.engine import make_url

            name = f"usvc_template_{uuid.uuid4().hex[:12]}"
            run_sync(_admin(server_url, f'CREATE DATABASE "{name}"'))
            atexit.register(_drop_template, server_url, name)
            url = make_url(server_url).set(database=name)
            run_sync(_migrate(url.render_as_string(hide_password=False)))
            _templates[key] = name
        return _templates[key]


class LocalPlatform:
    """A complete platform (API + gateway) on ``127.0.0.1`` for tests.

    Args:
        demo: Load the demo catalog and start its mock upstreams.
        catalogs: Seller catalog directories to load.
        groups_file: Groups TOML file.
        upstreams: Upstream origin -> local origin map.
        data_dir: Data directory to use (kept on exit); default a temporary
            one, removed on exit.
        database_url: Database URL; default the SQLite file in the data dir
            (or a fresh PostgreSQL database, see the module docs).
        redis_url: Optional Redis URL.
        allow_private_upstreams: Let the gateway reach loopback upstreams
            (default True: local fakes are the point of this helper).
        process: Run the server as a separate process instead of a thread.
        **settings_overrides: Any other :class:`Settings` field.
    """

    def __init__(
        self,
        *,
        demo: bool = False,
        catalogs: Sequence[str | Path] = (),
        groups_file: str | Path | None = None,
        upstreams: Mapping[str, str] | None = None,
        data_dir: str | Path | None = None,
        database_url: str | None = None,
        redis_url: str | None = None,
        allow_private_upstreams: bool = True,
        process: bool = False,
        **settings_overrides: Any,
    ) -> None:
        self._given_data_dir = Path(data_dir) if data_dir is not None else None
        self._given_database_url = database_url
        self._process_mode = process
        self._options: dict[str, Any] = {
            "demo": demo,
            "catalogs": tuple(Path(c) for c in catalogs),
            "groups_file": Path(groups_file) if groups_file is not None else None,
            "upstreams": dict(upstreams or {}),
            "redis_url": redis_url,
            "allow_private_upstreams": allow_private_upstreams,
            **settings_overrides,
        }
        self._settings: Settings | None = None
        self._exit_stack: contextlib.ExitStack | None = None
        self._socket: socket.socket | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._app: PlatformApp | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> LocalPlatform:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> LocalPlatform:
        """Start the platform and wait until ``/healthz`` answers."""
        if self._exit_stack is None:
            self._exit_stack = contextlib.ExitStack()
            try:
                self._settings = self._prepare_settings(self._exit_stack)
            except BaseException:
                self._exit_stack.close()
                self._exit_stack = None
                raise
        try:
            if self._process_mode:
                self._start_process()
            else:
                self._start_thread()
            self._wait_healthy()
        except BaseException:
            self.close()
            raise
        return self

    def _prepare_settings(self, stack: contextlib.ExitStack) -> Settings:
        if self._given_data_dir is not None:
            data_dir = self._given_data_dir
        else:
            data_dir = Path(tempfile.mkdtemp(prefix="unitysvc-platform-"))
            stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        database_url = self._given_database_url
        from_env = os.environ.get(TEST_DATABASE_ENV, "")
        if database_url is None and from_env.startswith("postgresql"):
            template = migrated_template(from_env)
            database_url = stack.enter_context(fresh_postgres_database(from_env, template=template))
        # Bound now and kept for restarts, so URLs stay valid across restart().
        self._socket = _bind_free_port("127.0.0.1", int(self._options.pop("port", 0) or 0))
        stack.callback(self._socket.close)
        host, port = self._socket.getsockname()[:2]
        settings = Settings(
            host=host, port=port, data_dir=data_dir, database_url=database_url, **self._options
        )
        if self._given_data_dir is None and settings.database_url is None:
            # The default SQLite file of a data dir of our own: new, so a copy.
            from sqlalchemy.engine import make_url

            sqlite_file = make_url(settings.resolved_database_url).database
            assert sqlite_file is not None
            shutil.copyfile(migrated_template(), sqlite_file)
        return settings

    def _start_thread(self) -> None:
        import uvicorn

        from unitysvc_server.app import create_app
        from unitysvc_server.serving import uvicorn_options

        assert self._settings is not None and self._socket is not None
        self._app = create_app(self._settings)
        config = uvicorn.Config(
            self._app,
            loop="asyncio",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            **uvicorn_options(self._settings),
        )
        self._server = uvicorn.Server(config)
        sock = self._socket
        server = self._server

        def serve() -> None:
            # uvicorn exits (SystemExit) when the app fails to start; the
            # failure is reported by start() from runtime.startup_error.
            with contextlib.suppress(SystemExit):
                server.run(sockets=[sock])

        self._thread = threading.Thread(
            target=serve,
            name=f"unitysvc-platform-{self._settings.port}",
            daemon=True,
        )
        self._thread.start()

    def _start_process(self) -> None:
        assert self._settings is not None and self._socket is not None
        # The child binds the port itself; release ours just before.
        self._socket.close()
        log_fd, log_name = tempfile.mkstemp(prefix="unitysvc-platform-", suffix=".log")
        self._log_path = Path(log_name)
        env = {**os.environ, "UNITYSVC_SECRET_KEY": self._settings.secret_key or ""}
        if not self._settings.secret_key:
            env.pop("UNITYSVC_SECRET_KEY")
        # Secrets travel in the environment, never on a command line others can read.
        env.pop("UNITYSVC_ADMIN_TOKEN", None)
        if self._settings.admin_token:
            env["UNITYSVC_ADMIN_TOKEN"] = self._settings.admin_token
        with os.fdopen(log_fd, "wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "unitysvc_server", "start", *cli_arguments(self._settings)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def _failure(self) -> str:
        if self._app is not None and self._app.runtime.startup_error is not None:
            return repr(self._app.runtime.startup_error)
        if self._log_path is not None and self._log_path.exists():
            return self._log_path.read_text(errors="replace")[-4000:]
        return "see the server log"

    def _alive(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self._thread is not None and self._thread.is_alive()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        url = f"{self.gateway_url}/healthz"
        from unitysvc._client import shared_ssl_context

        with httpx.Client(timeout=2.0, verify=shared_ssl_context()) as http:
            while time.monotonic() < deadline:
                if not self._alive():
                    raise RuntimeError(f"the platform failed to start: {self._failure()}")
                with contextlib.suppress(httpx.TransportError):
                    if http.get(url).status_code == 200:
                        return
                time.sleep(0.02)
        raise TimeoutError(f"the platform did not answer {url} within {START_TIMEOUT:.0f}s")

    def stop(self) -> None:
        """Stop the server (clean shutdown); the data stays for :meth:`start`/:meth:`restart`."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._rebind()
        if self._server is not None:
            self._server.should_exit = True
            assert self._thread is not None
            self._thread.join(timeout=STOP_TIMEOUT)
            if self._thread.is_alive():
                raise RuntimeError("the platform thread did not stop in time")
            self._server = None
            self._thread = None
            self._app = None
            self._rebind()  # uvicorn closed our socket on shutdown

    def kill(self) -> None:
        """``SIGKILL`` the server process (``process=True`` only): a crash, no cleanup."""
        if self._proc is None:
            raise RuntimeError("kill() needs LocalPlatform(process=True)")
        proc, self._proc = self._proc, None
        proc.kill()
        proc.wait()
        self._rebind()

    def _rebind(self) -> None:
        # Reserve the port again so a later start() finds it free and ours.
        if self._socket is not None and self._settings is not None:
            self._socket.close()
            deadline = time.monotonic() + 10
            while True:
                try:
                    self._socket = _bind_free_port("127.0.0.1", self._settings.port)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def restart(self) -> None:
        """Stop and start again on the same data directory, database and port."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove what it created (temporary data dir, database)."""
        try:
            self.stop()
        finally:
            if self._exit_stack is not None:
                self._exit_stack.close()
                self._exit_stack = None
            if self._log_path is not None:
                self._log_path.unlink(missing_ok=True)
                self._log_path = None

    # -- addresses ---------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings the platform runs with."""
        if self._settings is None:
            raise RuntimeError("the platform is not started")
        return self._settings

    @property
    def data_dir(self) -> Path:
        """The platform's data directory."""
        return self.settings.data_dir

    @property
    def database_url(self) -> str:
        """The database URL actually used."""
        return self.settings.resolved_database_url

    @property
    def gateway_url(self) -> str:
        """Root URL of the gateway, e.g. ``http://127.0.0.1:54321``."""
        return self.settings.gateway_url

    @property
    def api_url(self) -> str:
        """Control-plane base URL (``<gateway_url>/v1``)."""
        return self.settings.api_url

    @property
    def app(self) -> PlatformApp:
        """The in-process ASGI app (thread mode only)."""
        if self._app is None:
            raise RuntimeError("no in-process app (not started, or process=True)")
        return self._app

    # -- customers and clients ----------------------------------------------

    def create_customer(self, name: str) -> str:
        """Issue a new ``svcpass_`` key for customer ``name`` (created if new)."""
        from unitysvc_server.keys import create_key

        return run_sync(create_key(self.settings, name))

    def client(self, api_key: str | None = None, **kwargs: Any) -> unitysvc.Client:
        """A :class:`unitysvc.Client` pointed at this platform."""
        import unitysvc

        kwargs.setdefault("base_url", self.api_url)
        return unitysvc.Client(api_key, **kwargs)

    def async_client(self, api_key: str | None = None, **kwargs: Any) -> unitysvc.AsyncClient:
        """A :class:`unitysvc.AsyncClient` pointed at this platform."""
        import unitysvc

        kwargs.setdefault("base_url", self.api_url)
        return unitysvc.AsyncClient(api_key, **kwargs)

    def http(self, api_key: str | None = None, **kwargs: Any) -> httpx.Client:
        """A raw :class:`httpx.Client` on the API base URL (with the key, if given)."""
        from unitysvc._client import shared_ssl_context

        headers = dict(kwargs.pop("headers", {}))
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        # One TLS context for all: a new one per client costs more than a test request.
        kwargs.setdefault("verify", shared_ssl_context())
        return httpx.Client(base_url=self.api_url, headers=headers, **kwargs)


def cli_arguments(settings: Settings) -> list[str]:
    """The ``unitysvc_server start`` arguments reproducing ``settings``.

    The secret key and the admin token are not included (pass them through
    ``UNITYSVC_SECRET_KEY`` / ``UNITYSVC_ADMIN_TOKEN``, never on a command line other
    users can read).
    """
    args = [
        "--host", settings.host,
        "--port", str(settings.port),
        "--data-dir", str(settings.data_dir),
        "--log-level", settings.log_level.lower(),
        "--max-body-bytes", str(settings.max_body_bytes),
        "--rate-limit-burst", str(settings.rate_limit_burst),
        "--max-request-line-bytes", str(settings.max_request_line_bytes),
        "--max-header-bytes", str(settings.max_header_bytes),
        "--max-headers-bytes", str(settings.max_headers_bytes),
        "--max-header-count", str(settings.max_header_count),
        "--max-connections", str(settings.max_connections),
        "--client-timeout", str(settings.client_timeout),
        "--workers", str(settings.workers),
    ]  # fmt: skip
    flags: list[tuple[bool, str]] = [
        (settings.demo, "--demo"),
        (settings.allow_private_upstreams, "--allow-private-upstreams"),
        # Explicit both ways: the CLI's default depends on --demo.
        (not settings.allow_private_upstreams, "--deny-private-upstreams"),
        (not settings.scheduler_enabled, "--no-scheduler"),
        (settings.metrics, "--metrics"),
        (settings.metrics_public, "--metrics-public"),
    ]
    args += [flag for enabled, flag in flags if enabled]
    for catalog in settings.catalogs:
        args += ["--catalog", str(catalog)]
    for origin, local in settings.upstreams.items():
        args += ["--upstream-map", f"{origin}={local}"]
    for host, address in settings.resolve.items():
        args += ["--resolve", f"{host}={address}"]
    optional: list[tuple[object, str]] = [
        (settings.groups_file, "--groups"),
        (settings.database_url, "--database-url"),
        (settings.redis_url, "--redis-url"),
        (settings.public_url, "--public-url"),
        (settings.rate_limit_rps, "--rate-limit-rps"),
        (settings.otel_endpoint, "--otel-endpoint"),
    ]
    for value, option in optional:
        if value is not None:
            args += [option, str(value)]
    return args

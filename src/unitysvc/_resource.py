"""Base class of the API resources (``client.secrets``, ``client.groups``, ...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import httpx
from pydantic import BaseModel

from unitysvc._core import NO_OPTIONS, NOT_GIVEN, Emit, Flow, NotGiven, PageFlow, QueryValue
from unitysvc._core import RequestOptions as RequestOptions
from unitysvc._ops import Bound, M
from unitysvc.exceptions import invalid_argument

T = TypeVar("T")


def given(**fields: object) -> dict[str, object]:
    """The fields that were passed: a PATCH body without the ``NOT_GIVEN`` ones."""
    return {name: value for name, value in fields.items() if not isinstance(value, NotGiven)}


def record_id(value: object) -> str:
    """An id argument as sent on the wire: a UUID, a string, or a record with ``.id``."""
    return str(getattr(value, "id", value))


class Resource(Bound[M]):
    """A group of API operations sharing one client context."""

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: object | NotGiven = NOT_GIVEN,
        options: RequestOptions = NO_OPTIONS,
        anonymous: bool = False,
        creates: bool = False,
    ) -> Flow[httpx.Response]:
        """One control-plane call: build, send with retries, raise on error status.

        Args:
            method: HTTP method.
            path: Path relative to the control-plane URL (e.g. ``/secrets/``).
            params: Query parameters (None values dropped).
            json: JSON body.
            options: The caller's per-call options.
            anonymous: The contract allows this call without a key.
            creates: A creating POST: attach an ``Idempotency-Key`` so that retries
                cannot create twice.

        Returns:
            The successful response.
        """
        core = self._ctx.core
        if not anonymous:
            core.require_key(f"{method} {path}")
        request = core.request(
            method, path, params=params, json=json, options=options, idempotent_post=creates
        )
        return (yield from core.send(request))


PageT = TypeVar("PageT")


def walk_offset(
    fetch: Callable[[int, int], Flow[PageT]],
    items: Callable[[PageT], list[T]],
    page_size: int,
) -> PageFlow[T]:
    """Walk a skip/limit list page by page until a short page.

    Args:
        fetch: ``fetch(skip, limit)`` returns the flow of one page.
        items: Extracts the page's items.
        page_size: Rows per request.
    """
    if page_size < 1:
        raise invalid_argument("page_size", page_size, "must be at least 1")
    skip = 0
    while True:
        page = yield from fetch(skip, page_size)
        batch = items(page)
        yield Emit(batch)
        if len(batch) < page_size:
            return
        skip += len(batch)


def walk_offset_or_cursor(
    fetch: Callable[[int, int, str | None], Flow[PageT]],
    items: Callable[[PageT], list[T]],
    next_cursor: Callable[[PageT], str | None | NotGiven],
    page_size: int,
) -> PageFlow[T]:
    """Walk a skip/limit list, continuing by the server's cursor when it gives one.

    A server that answers with a next-page cursor (keyset pages: each costs what the
    first does, and the total is counted once) is followed by it until it returns
    none; one that does not (``next_cursor`` gives ``NOT_GIVEN``) is walked by
    ``skip`` until a short page.

    Args:
        fetch: ``fetch(skip, limit, cursor)`` returns the flow of one page (``cursor``
            is ``None`` for the first page and on servers without cursors).
        items: Extracts the page's items.
        next_cursor: The page's next cursor, ``None`` after the last page, or
            ``NOT_GIVEN`` when the server sent no cursor field.
        page_size: Rows per request.
    """
    if page_size < 1:
        raise invalid_argument("page_size", page_size, "must be at least 1")
    skip, cursor = 0, None
    while True:
        page = yield from fetch(skip, page_size, cursor)
        batch = items(page)
        yield Emit(batch)
        following = next_cursor(page)
        if isinstance(following, NotGiven):
            if len(batch) < page_size:
                return
            skip += len(batch)
        elif not following:
            return
        else:
            skip, cursor = 0, following


def next_cursor_of(page: BaseModel) -> str | None | NotGiven:
    """A page's ``next_cursor`` for :func:`walk_offset_or_cursor`.

    ``NOT_GIVEN`` when the server sent no such field (a platform without keyset pages,
    walked by ``skip``), else the cursor, ``None`` after the last page.
    """
    if "next_cursor" not in page.model_fields_set:
        return NOT_GIVEN
    cursor: str | None = getattr(page, "next_cursor")  # noqa: B009 - every paged model
    return cursor


def walk_cursor(
    fetch: Callable[[str | None], Flow[PageT]],
    items: Callable[[PageT], list[T]],
    next_cursor: Callable[[PageT], str | None],
) -> PageFlow[T]:
    """Walk a cursor-paginated list until the server returns no next cursor."""
    cursor: str | None = None
    while True:
        page = yield from fetch(cursor)
        yield Emit(items(page))
        cursor = next_cursor(page)
        if not cursor:
            return

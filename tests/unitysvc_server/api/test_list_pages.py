"""Cursor (keyset) pages of the lists that grow, beside the contract's skip/limit.

Aliases, broadcasts, chains, enrollments and recurrent requests, each with a customer of
its own (its counts are the test's rows only). The lists ordered by creation get rows
created at one instant, so the id tie-break decides their order. Walking the cursors
gives every row once, in the order of the skip/limit pages, with the total counted on
the first page; rows added during a walk do not make it skip or repeat a row; a forged
cursor is a 422 naming ``cursor``, a cursor with ``skip`` one naming ``skip``. Once more
on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from unitysvc_server.storage.base import Base
from unitysvc_server.storage.tables.aliases import AliasRow
from unitysvc_server.storage.tables.enrollments import EnrollmentRow
from unitysvc_server.storage.tables.recurrent_requests import RecurrentRequestRow
from unitysvc_server.testing import LocalPlatform, fresh_postgres_database

ROWS = 11


def run_db(database_url: str, work: Callable[[Any], Any]) -> None:
    """Run ``work(session)`` in one transaction on the platform's database."""

    async def go() -> None:
        engine = create_async_engine(database_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                await work(session)
        finally:
            await engine.dispose()

    asyncio.run(go())


@dataclass(frozen=True)
class Kind:
    """One list: where it is, how to add a row to it, and how it is ordered."""

    path: str
    #: Adds a row whose sort position follows ``label`` (names sort by it); its id.
    add: Callable[[httpx.Client, str, str], str]
    #: The row table when the list is ordered by creation (rows get a tied instant).
    table: type[Base] | None
    #: Newest first (new rows come before the walk's cursor).
    newest_first: bool = False
    params: tuple[tuple[str, str], ...] = ()


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    created: str = response.json()["id"]
    return created


def _add_alias(api: httpx.Client, label: str, _database_url: str) -> str:
    return _created(api.post("/aliases/", json={"name": f"a-{label}", "target_path": "g/llm"}))


def _add_broadcast(api: httpx.Client, label: str, _database_url: str) -> str:
    return _created(api.post("/broadcasts/", json={"name": f"b-{label}"}))


def _add_chain(api: httpx.Client, label: str, _database_url: str) -> str:
    return _created(api.post("/chains/", json={"name": f"c-{label}"}))


def _add_recurrent(api: httpx.Client, label: str, _database_url: str) -> str:
    return _created(api.post("/recurrent-requests/", json={"request_path": f"g/{label}"}))


def _add_enrollment(api: httpx.Client, label: str, database_url: str) -> str:
    # Enrollments of one service with equal parameters conflict: rows of the list
    # are written directly (the list does not look at their service).
    row = EnrollmentRow(
        customer_id=uuid.UUID(_customer(api)),
        service_id=uuid.uuid4(),
        status="cancelled",
        task_id=label,
    )

    async def work(session: Any) -> None:
        session.add(row)

    run_db(database_url, work)
    return str(row.id)


def _customer(api: httpx.Client) -> str:
    draft = api.post("/recurrent-requests/", json={"request_path": "p/x"}).json()
    api.delete(f"/recurrent-requests/{draft['id']}")
    customer: str = draft["customer_id"]
    return customer


KINDS = {
    "aliases": Kind("/aliases/", _add_alias, AliasRow),
    "broadcasts": Kind("/broadcasts/", _add_broadcast, None),
    "chains": Kind("/chains/", _add_chain, None),
    "enrollments": Kind(
        "/enrollments/",
        _add_enrollment,
        EnrollmentRow,
        newest_first=True,
        params=(("include_service_details", "false"),),
    ),
    "recurrent-requests": Kind("/recurrent-requests/", _add_recurrent, RecurrentRequestRow),
}


def listed(api: httpx.Client, kind: Kind, **params: Any) -> dict[str, Any]:
    response = api.get(kind.path, params={**dict(kind.params), **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


def walk(api: httpx.Client, kind: Kind, limit: int, **between: Any) -> list[dict[str, Any]]:
    """Every page from the first, following ``next_cursor``."""
    pages = [listed(api, kind, limit=limit)]
    while pages[-1]["next_cursor"] is not None:
        assert len(pages) <= 3 * ROWS, "the cursors do not end"
        if len(pages) == 1 and "during" in between:
            between["during"]()
        pages.append(listed(api, kind, limit=limit, cursor=pages[-1]["next_cursor"]))
    return pages


def fill(api: httpx.Client, kind: Kind, database_url: str) -> list[str]:
    """``ROWS`` rows; the creation-ordered lists get half of them at one instant."""
    made = [kind.add(api, f"m{i:02d}", database_url) for i in range(ROWS)]
    if kind.table is not None:
        table: Any = kind.table
        instant = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        tied = [uuid.UUID(made_id) for made_id in made[: ROWS // 2 + 1]]

        async def work(session: Any) -> None:
            await session.execute(
                update(table).where(table.id.in_(tied)).values(created_at=instant)
            )

        run_db(database_url, work)
    everything = listed(api, kind, limit=200)
    assert everything["count"] == ROWS
    assert everything["next_cursor"] is None  # one page holds them all
    assert sorted(ids(everything)) == sorted(made)
    return ids(everything)


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


@pytest.fixture
def api(platform: LocalPlatform) -> Iterator[httpx.Client]:
    with platform.http(platform.create_customer(f"lists-{uuid.uuid4().hex[:8]}")) as client:
        yield client


def check_walk(api: httpx.Client, kind: Kind, database_url: str) -> None:
    rows = fill(api, kind, database_url)
    for limit in (1, 3, ROWS):
        pages = walk(api, kind, limit)
        assert [row for page in pages for row in ids(page)] == rows, limit
        assert all(page["count"] == ROWS for page in pages)
        assert len(pages) == -(-ROWS // limit)  # the last full page says there is no more
        for position, page in zip(range(0, ROWS, limit), pages, strict=True):
            # The same page by skip/limit, which also continues by its cursor.
            by_skip = listed(api, kind, limit=limit, skip=position)
            assert ids(by_skip) == ids(page)
            assert (by_skip["next_cursor"] is None) == (page["next_cursor"] is None)
            if "skip" in page:
                assert page["skip"] == position
    middle = listed(api, kind, limit=3, skip=4)
    assert ids(listed(api, kind, limit=3, cursor=middle["next_cursor"])) == rows[7:10]


def test_cursor_pages_list_every_row_once_in_the_skip_limit_order(
    api: httpx.Client, kind: Kind, platform: LocalPlatform
) -> None:
    check_walk(api, kind, platform.database_url)


def test_rows_added_during_a_walk_neither_skip_nor_repeat_a_row(
    api: httpx.Client, kind: Kind, platform: LocalPlatform
) -> None:
    rows = fill(api, kind, platform.database_url)
    added: list[str] = []

    def during() -> None:
        # Names before the cursor, between the rows ahead of it, and after the last.
        for label in ("a", "m05x", "z"):
            added.append(kind.add(api, label, platform.database_url))

    pages = walk(api, kind, 4, during=during)
    served = [row for page in pages for row in ids(page)]
    assert len(served) == len(set(served))  # nothing twice
    assert [row for row in served if row in rows] == rows  # every row, in order
    assert all(page["count"] == ROWS for page in pages)  # as counted on the first page
    # Rows added ahead of the cursor are served too; behind it, not.
    if kind.table is None:  # by name: all but the one named before the cursor
        now = ids(listed(api, kind, limit=200))
        assert served == [row for row in now if row != added[0]]
    elif kind.newest_first:  # every new row is before the cursor
        assert served == rows
    else:  # every new row is after the last one
        assert served == rows + added


@pytest.mark.parametrize("cursor", ["nonsense", "eyJhIjoxfQ", "x" * 1001])
def test_a_forged_cursor_is_a_422_naming_it(api: httpx.Client, kind: Kind, cursor: str) -> None:
    response = api.get(kind.path, params={**dict(kind.params), "cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_a_cursor_of_a_list_keyed_otherwise_is_a_422_naming_it(
    api: httpx.Client, platform: LocalPlatform
) -> None:
    by_name = KINDS["chains"]
    by_time = KINDS["aliases"]
    for made in range(2):
        by_name.add(api, f"k{made}", platform.database_url)
        by_time.add(api, f"k{made}", platform.database_url)
    name_cursor = listed(api, by_name, limit=1)["next_cursor"]
    time_cursor = listed(api, by_time, limit=1)["next_cursor"]
    assert name_cursor is not None and time_cursor is not None
    for kind, foreign in ((by_time, name_cursor), (by_name, time_cursor)):
        response = api.get(kind.path, params={"cursor": foreign})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_a_cursor_with_skip_is_a_422_naming_skip(
    api: httpx.Client, kind: Kind, platform: LocalPlatform
) -> None:
    for made in range(2):
        kind.add(api, f"s{made}", platform.database_url)
    first = listed(api, kind, limit=1)
    response = api.get(
        kind.path,
        params={**dict(kind.params), "limit": 1, "skip": 1, "cursor": first["next_cursor"]},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "skip"]
    assert "omit skip" in response.json()["detail"][0]["msg"]


def test_cursor_pages_on_postgresql(postgres_server_url: str) -> None:
    with (
        fresh_postgres_database(postgres_server_url) as database_url,
        LocalPlatform(database_url=database_url, demo=True) as platform,
    ):
        for name, kind in sorted(KINDS.items()):
            with platform.http(platform.create_customer(f"pg-{name}")) as api:
                check_walk(api, kind, platform.database_url)

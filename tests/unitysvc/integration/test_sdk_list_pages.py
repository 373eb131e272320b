"""``iter`` of aliases, broadcasts, chains, enrollments and recurrent requests walks by
the server's cursor when it gives one, by skip/limit when it does not: against
LocalPlatform (which gives one) and a scripted server that answers like an older
platform (no ``next_cursor``), sync and async alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import unitysvc
from unitysvc_server.storage.tables.enrollments import EnrollmentRow
from unitysvc_server.testing import LocalPlatform

ROWS = 7
PAGE = 3


def _customer_id(platform: LocalPlatform, key: str) -> uuid.UUID:
    with platform.http(key) as http:
        draft = http.post("/recurrent-requests/", json={"request_path": "p/x"}).json()
        http.delete(f"/recurrent-requests/{draft['id']}")
    return uuid.UUID(draft["customer_id"])


def _enrollments(platform: LocalPlatform, key: str, client: unitysvc.Client) -> None:
    # Enrollments of one service with equal parameters conflict: the rows are written
    # directly (the list does not look at their service).
    customer = _customer_id(platform, key)

    async def go() -> None:
        engine = create_async_engine(platform.database_url)
        try:
            factory = async_sessionmaker(engine)
            async with factory() as session, session.begin():
                session.add_all(
                    EnrollmentRow(
                        customer_id=customer,
                        service_id=uuid.uuid4(),
                        status="cancelled",
                        task_id=f"t{i}",
                    )
                    for i in range(ROWS)
                )
        finally:
            await engine.dispose()

    asyncio.run(go())


def _aliases(platform: LocalPlatform, key: str, client: unitysvc.Client) -> None:
    for i in range(ROWS):
        client.aliases.create({"name": f"a-{i}", "target_path": "g/llm"})


def _broadcasts(platform: LocalPlatform, key: str, client: unitysvc.Client) -> None:
    for i in range(ROWS):
        client.broadcasts.create(name=f"b-{i}")


def _chains(platform: LocalPlatform, key: str, client: unitysvc.Client) -> None:
    for i in range(ROWS):
        client.chains.create(name=f"c-{i}")


def _recurrent(platform: LocalPlatform, key: str, client: unitysvc.Client) -> None:
    for i in range(ROWS):
        client.recurrent_requests.create({"request_path": f"g/r{i}"})


FILL: dict[str, Callable[[LocalPlatform, str, unitysvc.Client], None]] = {
    "aliases": _aliases,
    "broadcasts": _broadcasts,
    "chains": _chains,
    "enrollments": _enrollments,
    "recurrent_requests": _recurrent,
}
PATHS = {name: "/v1/" + name.replace("_", "-") + "/" for name in FILL}


def walk_iter(
    base_url: str,
    key: str,
    resource: str,
    flavour: str,
    id_of: Callable[[Any], str] = lambda item: str(item.id),
) -> tuple[list[str], list[httpx.URL]]:
    """``iter(page_size=PAGE)``'s ids of ``resource``, and the URLs of the requests it sent."""
    sent: list[httpx.URL] = []
    if flavour == "sync":
        http = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.url)]})
        with unitysvc.Client(key, base_url=base_url, http_client=http) as client:
            ids = [id_of(item) for item in getattr(client, resource).iter(page_size=PAGE)]
        http.close()
        return ids, sent

    async def record(request: httpx.Request) -> None:
        sent.append(request.url)

    async def walk() -> list[str]:
        async with (
            httpx.AsyncClient(event_hooks={"request": [record]}) as http,
            unitysvc.AsyncClient(key, base_url=base_url, http_client=http) as client,
        ):
            pages = getattr(client, resource).iter(page_size=PAGE)
            return [id_of(item) async for item in pages]

    return asyncio.run(walk()), sent


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("resource", sorted(FILL))
def test_iter_follows_the_cursor_the_server_gives(
    platform: LocalPlatform, resource: str, flavour: str
) -> None:
    key = platform.create_customer(f"pages-{uuid.uuid4().hex[:8]}")
    with platform.client(key) as client:
        FILL[resource](platform, key, client)
        page = getattr(client, resource).list(limit=200)
        rows = [str(item.id) for item in page.data]
    assert len(rows) == ROWS
    ids, sent = walk_iter(platform.api_url, key, resource, flavour)
    assert ids == rows
    # The first page by skip/limit, the others by the cursor of the page before; the
    # short last page has none, so nothing is asked after it.
    assert len(sent) == 3
    assert "cursor" not in sent[0].params
    assert all(url.params.get("cursor") for url in sent[1:])
    assert {url.params["skip"] for url in sent} == {"0"}


def test_list_hands_out_the_next_cursor(platform: LocalPlatform) -> None:
    key = platform.create_customer(f"pages-{uuid.uuid4().hex[:8]}")
    with platform.client(key) as client:
        _chains(platform, key, client)
        first = client.chains.list(limit=4)
        second = client.chains.list(limit=4, cursor=first.next_cursor)
        assert first.has_more and first.next_cursor
        assert (second.has_more, second.next_cursor) == (False, None)
        names = [chain.name for chain in [*first, *second]]
    assert names == [f"c-{i}" for i in range(ROWS)]


def _item(resource: str, n: int) -> dict[str, Any]:
    stamp = "2026-01-01T00:00:00Z"
    row = f"00000000-0000-4000-8000-{n:012d}"
    base: dict[str, Any] = {"id": row, "created_at": stamp, "updated_at": stamp}
    if resource == "aliases":
        return {**base, "name": f"a{n}", "target_path": "g/llm", "customer_id": row}
    return {
        **base,
        "service_id": row,
        "status": "cancelled",
        "owner_id": None,
        "customer_id": row,
    }


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("resource", ["aliases", "enrollments"])
def test_iter_walks_by_skip_a_server_without_cursors(
    scripted_server: Any, resource: str, flavour: str
) -> None:
    for skip in range(0, ROWS, PAGE):
        items = [_item(resource, n) for n in range(skip, min(skip + PAGE, ROWS))]
        # As an older platform answers: no next_cursor field at all.
        page: dict[str, Any] = {"data": items, "count": ROWS}
        if resource == "enrollments":
            page.update(skip=skip, limit=PAGE)
        scripted_server.respond(json=page, path=PATHS[resource])
    key = "svcpass_" + "k" * 32
    ids, _ = walk_iter(f"{scripted_server.url}/v1", key, resource, flavour)
    assert ids == [_item(resource, n)["id"] for n in range(ROWS)]
    asked = [(r.query["skip"], r.query.get("cursor")) for r in scripted_server.requests]
    assert asked == [(["0"], None), (["3"], None), (["6"], None)]

"""``GET /v1/request-logs`` by cursor (keyset pages) beside the contract's skip/limit.

Rows written through the gateway's writer API, many of them at one instant, so the
id tie-break decides the order. Walking the cursors gives every row once, in the same
order as skip/limit pages; the total is the one counted on the first page; a bad
cursor is a 422 naming the parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from test_request_logs import customer_id_of, insert, listed, record

from unitysvc_server.testing import LocalPlatform

ROWS = 23


@pytest.fixture
def api(platform: LocalPlatform) -> Iterator[httpx.Client]:
    """A customer of its own: the counts are this test's rows only."""
    with platform.http(platform.create_customer(f"pages-{uuid.uuid4().hex[:8]}")) as client:
        yield client


@pytest.fixture
def rows(api: httpx.Client, platform: LocalPlatform) -> list[str]:
    """``ROWS`` log rows of the caller: 10 at one instant, the rest a second apart."""
    customer = customer_id_of(api)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    stamps = [now] * 10 + [now - timedelta(seconds=i) for i in range(1, ROWS - 9)]
    records = [record(customer, f"r{i}", event_timestamp=t) for i, t in enumerate(stamps)]
    insert(platform, records)
    everything = listed(api, limit=200)
    assert everything["total_count"] == ROWS
    assert everything["next_cursor"] is None  # one page holds them all
    return [item["log_id"] for item in everything["items"]]


def _walk(api: httpx.Client, limit: int) -> list[dict[str, Any]]:
    pages = [listed(api, limit=limit)]
    while pages[-1]["next_cursor"] is not None:
        assert len(pages) <= ROWS, "the cursors do not end"
        pages.append(listed(api, limit=limit, cursor=pages[-1]["next_cursor"]))
    return pages


def test_cursor_pages_list_every_row_once_in_the_skip_limit_order(
    api: httpx.Client, rows: list[str]
) -> None:
    pages = _walk(api, limit=4)
    assert [item["log_id"] for page in pages for item in page["items"]] == rows
    assert [page["skip"] for page in pages] == list(range(0, ROWS, 4))
    assert all(page["total_count"] == ROWS and page["limit"] == 4 for page in pages)
    # The same pages by skip/limit, each with the cursor that continues it.
    for page in pages:
        by_skip = listed(api, limit=4, skip=page["skip"])
        assert by_skip["items"] == page["items"]
    middle = listed(api, limit=4, skip=8)
    after = listed(api, limit=4, cursor=middle["next_cursor"])
    assert [item["log_id"] for item in after["items"]] == rows[12:16]


def test_the_total_is_counted_once_per_walk(
    api: httpx.Client, platform: LocalPlatform, rows: list[str]
) -> None:
    first = listed(api, limit=5)
    insert(platform, [record(customer_id_of(api), "late", event_timestamp=datetime.now(UTC))])
    second = listed(api, limit=5, cursor=first["next_cursor"])
    assert second["total_count"] == ROWS  # as counted on the first page
    assert [item["log_id"] for item in second["items"]] == rows[5:10]
    assert listed(api, limit=5)["total_count"] == ROWS + 1  # a new walk counts again


def test_skip_pages_near_the_oldest_row_hold_the_same_rows(
    api: httpx.Client, platform: LocalPlatform
) -> None:
    """Pages past the middle are read from the oldest end (the last page costs what the
    first does): the same rows in the same order, across a tie at the oldest instant,
    a short last page, and nothing past the end."""
    customer = customer_id_of(api)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    oldest = now - timedelta(seconds=ROWS)
    stamps = [now - timedelta(seconds=i) for i in range(ROWS - 10)] + [oldest] * 10
    insert(platform, [record(customer, f"o{i}", event_timestamp=t) for i, t in enumerate(stamps)])
    rows = [item["log_id"] for item in listed(api, limit=200)["items"]]
    assert len(rows) == ROWS
    for limit in (1, 4, 7):
        for skip in range(ROWS + 2):
            page = listed(api, limit=limit, skip=skip)
            assert [item["log_id"] for item in page["items"]] == rows[skip : skip + limit], (
                limit,
                skip,
            )
            assert (page["total_count"], page["skip"], page["limit"]) == (ROWS, skip, limit)
    filtered = listed(api, limit=3, skip=ROWS - 12, end_time=oldest.isoformat())
    assert filtered["total_count"] == 10
    assert [item["log_id"] for item in filtered["items"]] == []
    assert [
        item["log_id"]
        for item in listed(api, limit=3, skip=8, end_time=oldest.isoformat())["items"]
    ] == rows[-2:]


@pytest.mark.parametrize("cursor", ["nonsense", "eyJhIjoxfQ", "x" * 1001])
def test_a_bad_cursor_is_a_422_naming_it(api: httpx.Client, cursor: str) -> None:
    response = api.get("/request-logs", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_a_cursor_with_skip_is_a_422_naming_skip(api: httpx.Client, rows: list[str]) -> None:
    first = listed(api, limit=5)
    response = api.get(
        "/request-logs", params={"limit": 5, "skip": 5, "cursor": first["next_cursor"]}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "skip"]
    assert "omit skip" in response.json()["detail"][0]["msg"]

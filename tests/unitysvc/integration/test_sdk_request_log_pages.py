"""``request_logs.iter`` walks by the server's cursor when it gives one, by skip/limit
when it does not: against LocalPlatform (which gives one) and a scripted server that
answers like an older platform (no ``next_cursor``), sync and async alike."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from test_sdk_list_pages import PAGE, walk_iter

from unitysvc_server.testing import LocalPlatform

ROWS = 7


def _logged_customer(platform: LocalPlatform, service_id: Any) -> tuple[str, list[str]]:
    """A customer of its own with ``ROWS`` logged calls; their log ids, newest first."""
    key = platform.create_customer(f"pages-{uuid.uuid4().hex[:8]}")
    with platform.client(key) as client:
        client.request_logs.start()
        path = f"p/{service_id(client, 'demo-small')}/chat/completions"
        chat = {"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(ROWS):
            assert client.dispatch(path, json=chat).status_code == 200
        deadline = time.monotonic() + 10
        while (page := client.request_logs.list(limit=200)).total_count < ROWS:
            assert time.monotonic() < deadline, "the calls were not logged"
            time.sleep(0.05)
        assert page.total_count == ROWS
    return key, [item.log_id for item in page.items]


def _walk(base_url: str, key: str, flavour: str) -> tuple[list[str], list[httpx.URL]]:
    """``request_logs.iter(page_size=PAGE)``'s log ids, and the URLs of the requests it sent."""
    return walk_iter(base_url, key, "request_logs", flavour, id_of=lambda item: item.log_id)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_iter_follows_the_cursor_the_server_gives(
    platform: LocalPlatform, service_id: Any, flavour: str
) -> None:
    key, rows = _logged_customer(platform, service_id)
    ids, sent = _walk(platform.api_url, key, flavour)
    assert ids == rows
    # The first page by skip/limit, the others by the cursor of the page before; the
    # short last page has none, so nothing is asked after it.
    assert len(sent) == 3
    assert "cursor" not in sent[0].params
    assert all(url.params.get("cursor") for url in sent[1:])
    assert {url.params["skip"] for url in sent} == {"0"}


def _page(skip: int, count: int) -> dict[str, Any]:
    items = [
        {
            "log_id": f"log-{skip + i}",
            "event_id": f"e{skip + i}",
            "event_timestamp": "2026-01-01T00:00:00+00:00",
            "gateway_source": "backend",
            "customer_id": "c",
            "user_request_method": "POST",
            "user_request_path": "/p/x",
        }
        for i in range(count)
    ]
    # As an older platform answers: no next_cursor field at all.
    return {"total_count": ROWS, "skip": skip, "limit": PAGE, "items": items}


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_iter_walks_by_skip_a_server_without_cursors(scripted_server: Any, flavour: str) -> None:
    for skip in range(0, ROWS, PAGE):
        scripted_server.respond(json=_page(skip, min(PAGE, ROWS - skip)), path="/v1/request-logs")
    key = "svcpass_" + "k" * 32
    ids, _ = _walk(f"{scripted_server.url}/v1", key, flavour)
    assert ids == [f"log-{i}" for i in range(ROWS)]
    asked = [(r.query["skip"], r.query.get("cursor")) for r in scripted_server.requests]
    assert asked == [(["0"], None), (["3"], None), (["6"], None)]

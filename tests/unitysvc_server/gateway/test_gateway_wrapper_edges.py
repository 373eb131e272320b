"""End to end: wrapper parameters at their edges — TTL bounds and expiry, failover on 429,
external secondaries, ``l/?_complete`` into the object store, a tee copy's own log row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from gateway_helpers import FakeUpstream, wait_for

import unitysvc
from unitysvc_server.testing import LocalPlatform


def enc(path: str) -> str:
    return quote(path, safe="")


def log_rows(client: unitysvc.Client, needle: str) -> list[Any]:
    found: list[Any] = []

    def present() -> bool:
        items = client.request_logs.list(limit=200).items
        found[:] = [r for r in items if needle in r.user_request_path]
        return bool(found)

    wait_for(present, what=f"a request-log row for {needle}")
    return found


@pytest.mark.parametrize(
    ("ttl", "status"), [("7d", 200), ("8d", 400), ("604801s", 400), ("0s", 400), ("1w", 400)]
)
def test_ttl_is_bounded_by_seven_days(
    client: unitysvc.Client,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
    ttl: str,
    status: int,
    marker: str,
) -> None:
    response = client.dispatch(f"m/p/{service_id('fake')}/{marker}?_ttl={ttl}", json={})
    assert response.status_code == status, response.text
    if status == 400:
        assert "_ttl" in response.json()["detail"]
        assert response.json()["error_source"] == "gateway"
        assert fake.count(f"/{marker}") == 0  # refused before any upstream call


def test_memo_entry_expires_after_its_ttl(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    path = f"m/p/{service_id('fake')}/{marker}?_ttl=1s"
    assert client.dispatch(path, json={}).headers["x-unitysvc-cache"] == "miss"
    wait_for(lambda: client.dispatch(path, json={}).headers["x-unitysvc-cache"] == "hit")
    # Once the second has passed the entry is gone: the upstream is called again.
    wait_for(lambda: client.dispatch(path, json={}).headers["x-unitysvc-cache"] == "miss")
    assert fake.count(f"/{marker}") == 2


def test_failover_on_429(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    fake_id = service_id("fake")
    response = client.dispatch(
        f"f/p/{fake_id}/{marker}/status/429?_else={enc(f'p/{fake_id}/{marker}/second')}",
        json={},
    )
    assert response.status_code == 200
    assert response.headers["x-unitysvc-failover"] == "1"
    assert response.json()["path"] == f"/{marker}/second"
    assert fake.count(f"/{marker}/status/429") == 1


@pytest.mark.parametrize(("wrapper", "param"), [("f", "_else"), ("t", "_to")])
@pytest.mark.parametrize(
    "secondary", ["https://evil.example/x", "http://127.0.0.1:1/x", "//evil.example/x"]
)
def test_external_secondary_is_400(
    client: unitysvc.Client,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
    wrapper: str,
    param: str,
    secondary: str,
    marker: str,
) -> None:
    response = client.dispatch(
        f"{wrapper}/p/{service_id('fake')}/{marker}?{param}={enc(secondary)}", json={}
    )
    assert response.status_code == 400
    body = response.json()
    assert "gateway-relative" in body["detail"] and param in body["detail"]
    assert body["error_source"] == "gateway"
    assert fake.count(f"/{marker}") == 0  # the primary is not called either


def test_log_complete_keeps_full_bodies_in_the_object_store(
    platform: LocalPlatform,
    client: unitysvc.Client,
    service_id: Callable[[str], str],
    marker: str,
) -> None:
    big = {"text": "y" * 30_000, "marker": marker}
    response = client.dispatch(f"l/p/{service_id('fake')}/{marker}?_complete", json=big)
    assert response.status_code == 200
    (row,) = log_rows(client, marker)
    detail = client.request_logs.get(row.log_id)
    assert detail.user_request.body == big
    assert detail.upstream_response is not None
    assert "y" * 30_000 in str(detail.upstream_response.body)
    # The full bodies live as files in the data dir's object store, not in the row.
    stored = platform.data_dir / "objects" / "request-logs" / str(row.customer_id) / row.log_id
    assert (stored / "request").read_bytes().count(b"y") >= 30_000
    assert (stored / "response").stat().st_size > 30_000


def test_plain_l_keeps_8kb_previews_only(
    platform: LocalPlatform,
    client: unitysvc.Client,
    service_id: Callable[[str], str],
    marker: str,
) -> None:
    big = {"text": "z" * 30_000}
    client.dispatch(f"l/p/{service_id('fake')}/{marker}", json=big)
    (row,) = log_rows(client, marker)
    detail = client.request_logs.get(row.log_id)
    assert 0 < len(str(detail.user_request.body)) <= 8 * 1024 + 64
    # The fake echoes the 30 KB request: its response is cut to a preview as well.
    assert detail.upstream_response is not None
    assert 0 < len(str(detail.upstream_response.body)) <= 8 * 1024 + 64
    assert not (
        platform.data_dir / "objects" / "request-logs" / str(row.customer_id) / row.log_id
    ).exists()


def test_tee_copy_writes_its_own_log_row(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    fake_id = service_id("fake")
    copy = f"l/p/{fake_id}/{marker}/copy"
    response = client.dispatch(f"t/p/{fake_id}/{marker}/primary?_to={enc(copy)}", json={})
    assert response.json()["path"] == f"/{marker}/primary"
    (row,) = log_rows(client, f"{marker}/copy")
    assert row.upstream_response_status_code == 200
    assert row.service_id == fake_id

"""End to end: request-log rows from l/ and from the customer's logging preference."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import unitysvc


def find_rows(client: unitysvc.Client, needle: str, timeout: float = 10.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = [
            r for r in client.request_logs.list(limit=200).items if needle in r.user_request_path
        ]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_log_wrapper_writes_a_redacted_row(
    client: unitysvc.Client, service_id: Callable[[str], str], marker: str
) -> None:
    fake = service_id("fake")
    response = client.dispatch(f"l/p/{fake}/{marker}?api_key=hunter2", json={"q": marker})
    assert response.status_code == 200
    (row,) = find_rows(client, marker)
    assert row.gateway_source == "backend"
    assert row.service_id == fake
    assert row.upstream_response_status_code == 200
    assert row.upstream_response_time_ms is not None and row.upstream_response_time_ms >= 0
    assert "hunter2" not in row.user_request_path
    detail = client.request_logs.get(row.log_id)
    assert detail.user_request.method == "POST"
    assert {k.lower() for k in detail.user_request.headers or {}}.isdisjoint({"authorization"})
    assert detail.upstream_response is not None
    assert marker in str(detail.upstream_response.body)
    assert "svcpass_" not in detail.model_dump_json()


def test_nothing_logged_without_wrapper_or_preference(
    client: unitysvc.Client, service_id: Callable[[str], str], marker: str
) -> None:
    fake = service_id("fake")
    client.dispatch(f"p/{fake}/{marker}-quiet", json={})
    client.dispatch(f"l/p/{fake}/{marker}-loud", json={})
    # Rows are written in order: once the later one is there, the earlier would be too.
    assert find_rows(client, f"{marker}-loud")
    assert find_rows(client, f"{marker}-quiet", timeout=0) == []


def test_preference_truncated_then_complete(
    client: unitysvc.Client, service_id: Callable[[str], str], marker: str
) -> None:
    fake = service_id("fake")
    big = {"text": "x" * 20_000}
    assert client.request_logs.start(truncate_long_message=True).enabled
    client.dispatch(f"p/{fake}/{marker}-truncated", json=big)
    (row,) = find_rows(client, f"{marker}-truncated")
    body = client.request_logs.get(row.log_id).user_request.body
    assert len(str(body)) <= 8 * 1024 + 64

    client.request_logs.start(truncate_long_message=False)
    client.dispatch(f"p/{fake}/{marker}-complete", json=big)
    (row,) = find_rows(client, f"{marker}-complete")
    detail = client.request_logs.get(row.log_id)
    assert detail.user_request.body == big
    # The fake echoes the request, so the full response is bigger than a preview too.
    assert "x" * 20_000 in str(detail.upstream_response.body if detail.upstream_response else "")

    assert client.request_logs.stop().enabled is False
    client.dispatch(f"p/{fake}/{marker}-after", json={})
    client.dispatch(f"l/p/{fake}/{marker}-fence", json={})
    assert find_rows(client, f"{marker}-fence")
    assert find_rows(client, f"{marker}-after", timeout=0) == []


def test_failed_dispatch_row_carries_error_source(
    client: unitysvc.Client, service_id: Callable[[str], str], marker: str
) -> None:
    response = client.dispatch(f"l/p/{service_id('dead')}/{marker}", json={})
    assert response.status_code == 502
    (row,) = find_rows(client, marker)
    assert row.error_source == "upstream"
    assert row.error_type == "upstream_connect_error"
    assert row.upstream_response_status_code is None

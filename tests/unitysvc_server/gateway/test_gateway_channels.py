"""End to end: upstream channel choice (managed, BYOK, BYOE) in ``sort_order``.

The gwtest service ``multi`` declares three channels, preferred in this order: ``byoe``
(sort_order 0, needs an enrollment; its URL carries the enrollment code), ``byok`` (1,
needs the customer secret ``GWTEST_MULTI_KEY``) and ``managed`` (2). The gateway must use
the first one the caller can use, and ``/v1/resolve`` must predict it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway_helpers import FakeUpstream, wait_for

import unitysvc


def test_channel_is_the_first_usable_in_sort_order(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    multi = service_id("multi")
    path = f"p/{multi}/{marker}"

    # Nothing held: only the managed channel is usable, and it sends no credential.
    managed = client.dispatch(path, json={})
    assert managed.status_code == 200, managed.text
    assert managed.json()["path"] == f"/multi-managed/{marker}"
    assert "authorization" not in managed.json()["headers"]

    # With the secret, BYOK (sort_order 1) beats managed (2), and carries the key.
    client.secrets.set("GWTEST_MULTI_KEY", f"sk-{marker}")
    byok = client.dispatch(path, json={})
    assert byok.json()["path"] == f"/multi-byok/{marker}"
    assert byok.json()["headers"]["authorization"] == f"Bearer sk-{marker}"

    # With an active enrollment too, BYOE (sort_order 0) wins, at the enrolled URL.
    enrollment = client.enrollments.create(service_id=multi).wait(timeout=20)
    assert enrollment.status == "active", enrollment.record
    byoe = client.dispatch(path, json={})
    assert byoe.json()["path"] == f"/multi-byoe/{enrollment.code}/{marker}"
    # The enrollment's channel strips credentials: the BYOK key does not leak to it.
    assert "authorization" not in byoe.json()["headers"]

    # The dry run names the same enrollment the dispatch used.
    resolved = client.resolve(path=path)
    assert resolved.selected is not None
    assert str(resolved.selected.service_id) == multi
    assert str(resolved.selected.enrollment_id) == str(enrollment.id)

    # The enrollment's own address uses its channel as well.
    by_code = client.dispatch(f"e/{enrollment.code}/{marker}", json={})
    assert by_code.json()["path"] == f"/multi-byoe/{enrollment.code}/{marker}"


def test_request_log_names_the_enrollment_used(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    multi = service_id("multi")
    enrollment = client.enrollments.create(service_id=multi).wait(timeout=20)
    assert enrollment.status == "active", enrollment.record
    assert client.dispatch(f"l/e/{enrollment.code}/{marker}", json={}).status_code == 200
    rows: list[Any] = []

    def logged() -> bool:
        items = client.request_logs.list(limit=200).items
        rows[:] = [r for r in items if marker in r.user_request_path]
        return bool(rows)

    wait_for(logged, what="the request-log row")  # the writer is asynchronous
    (row,) = rows
    assert row.service_id == multi
    assert row.service_enrollment_id == str(enrollment.id)
    # Upstream identity (the rendered channel URL) never enters the row.
    detail = client.request_logs.get(row.log_id)
    assert "fake.gwtest.example.com" not in detail.model_dump_json()
    assert fake.url not in detail.model_dump_json()

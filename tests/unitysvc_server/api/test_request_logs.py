"""``/v1/request-logs`` over HTTP, with rows written through the gateway's writer API."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from unitysvc_server.domain.request_logs import (
    PREVIEW_LIMIT,
    RequestLogRecord,
    body_object_key,
    write_log_rows,
)
from unitysvc_server.domain.usage import Usage, UsageEvent, write_usage_events
from unitysvc_server.storage.objects import ObjectStore
from unitysvc_server.testing import LocalPlatform


@pytest.fixture
def api(platform: LocalPlatform, customer_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=platform.api_url, headers={"Authorization": f"Bearer {customer_key}"}
    ) as client:
        yield client


@pytest.fixture
def other(platform: LocalPlatform, other_customer_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=platform.api_url, headers={"Authorization": f"Bearer {other_customer_key}"}
    ) as client:
        yield client


def customer_id_of(api: httpx.Client) -> uuid.UUID:
    """The caller's customer id, as the API reports it on the rows it owns."""
    draft = api.post("/recurrent-requests/", json={"request_path": "p/x"}).json()
    api.delete(f"/recurrent-requests/{draft['id']}")
    return uuid.UUID(draft["customer_id"])


def run_db(platform: LocalPlatform, work: Any) -> Any:
    async def go() -> Any:
        engine = create_async_engine(platform.database_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def insert(
    platform: LocalPlatform,
    records: Sequence[RequestLogRecord],
    events: Sequence[UsageEvent] = (),
) -> None:
    async def work(session: Any) -> None:
        await write_usage_events(session, events)
        await write_log_rows(session, records)

    run_db(platform, work)


def record(customer: uuid.UUID, marker: str, **fields: Any) -> RequestLogRecord:
    defaults: dict[str, Any] = {
        "customer_id": customer,
        "method": "POST",
        "path": f"/p/echo/{marker}",
        "request_headers": {"content-type": "application/json"},
        "request_content_type": "application/json",
        "request_body_preview": json.dumps({"marker": marker}).encode(),
        "status_code": 200,
        "response_time_ms": 12.5,
        "response_content_type": "application/json",
        "response_body_preview": b'{"ok": true}',
    }
    defaults.update(fields)
    return RequestLogRecord(**defaults)


def listed(api: httpx.Client, **params: Any) -> dict[str, Any]:
    response = api.get("/request-logs", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_start_stop_write_the_request_log_preference(api: httpx.Client) -> None:
    def mode() -> Any:
        response = api.get("/preferences/request-log")
        assert response.status_code == 200, response.text
        return response.json()["value"]

    assert api.post("/request-logs/stop").json() == {"enabled": False}  # idempotent off
    assert mode() is None
    assert api.post("/request-logs/start", params={"truncate_long_message": False}).json() == {
        "enabled": True
    }
    assert mode() == "complete"
    assert api.post("/request-logs/start").json() == {"enabled": True}  # keeps the mode
    assert mode() == "complete"
    assert api.post("/request-logs/stop").json() == {"enabled": False}
    assert mode() is None
    assert api.post("/request-logs/start").json() == {"enabled": True}  # off: truncated
    assert mode() == "truncated"
    api.post("/request-logs/start", params={"truncate_long_message": True})
    assert mode() == "truncated"
    api.post("/request-logs/stop")


def test_list_filters_paging_and_default_window(api: httpx.Client, platform: LocalPlatform) -> None:
    customer = customer_id_of(api)
    marker = uuid.uuid4().hex[:10]
    now = datetime.now(UTC)
    service, enrollment, recurrent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    records = [
        record(customer, f"{marker}/ok", service_id=service, event_timestamp=now),
        record(
            customer,
            f"{marker}/bad",
            status_code=503,
            error_source="upstream",
            error_type="upstream_error",
            service_enrollment_id=enrollment,
            event_timestamp=now - timedelta(minutes=1),
        ),
        record(
            customer,
            f"{marker}/gw",
            status_code=None,
            error_source="gateway",
            error_type="timeout",
            recurrent_request_id=recurrent,
            event_timestamp=now - timedelta(minutes=2),
        ),
        record(customer, f"{marker}/old", event_timestamp=now - timedelta(days=3)),
    ]
    insert(platform, records)
    prefix = f"p/echo/{marker}"

    recent = listed(api, user_request_path=prefix)
    assert recent["total_count"] == 3  # the 3-day-old row is outside the default 24 h
    assert [item["user_request_path"].rsplit("/", 1)[-1] for item in recent["items"]] == [
        "ok",
        "bad",
        "gw",
    ]
    first = recent["items"][0]
    assert first["log_id"] == str(records[0].log_id)
    assert first["gateway_source"] == "backend"
    assert first["upstream_response_status_code"] == 200
    assert first["upstream_response_time_ms"] == 12.5
    assert first["service_id"] == str(service)
    assert "user_request" not in first  # lists carry no bodies

    def ids(**params: Any) -> list[str]:
        page = listed(api, user_request_path=f"/{prefix}", **params)
        return [item["log_id"] for item in page["items"]]

    assert ids(status_min=500) == [str(records[1].log_id)]
    assert ids(status_max=299) == [str(records[0].log_id)]
    assert ids(error_source="gateway") == [str(records[2].log_id)]
    assert ids(error_type="upstream_error") == [str(records[1].log_id)]
    assert ids(service_id=str(service)) == [str(records[0].log_id)]
    assert ids(service_enrollment_id=str(enrollment)) == [str(records[1].log_id)]
    assert ids(recurrent_request_id=str(recurrent)) == [str(records[2].log_id)]
    assert ids(gateway_source="apisix") == []
    assert ids(start_time=(now - timedelta(days=4)).isoformat())[-1] == str(records[3].log_id)
    assert ids(
        start_time=(now - timedelta(minutes=1, seconds=30)).isoformat(),
        end_time=(now - timedelta(seconds=30)).isoformat(),
    ) == [str(records[1].log_id)]

    paged = listed(api, user_request_path=prefix, skip=1, limit=1)
    assert paged["total_count"] == 3 and paged["skip"] == 1 and paged["limit"] == 1
    assert [item["log_id"] for item in paged["items"]] == [str(records[1].log_id)]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 201}, {"skip": -1}, {"status_min": 99}, {"status_max": 600}],
)
def test_bad_list_parameters_are_422(api: httpx.Client, params: dict[str, int]) -> None:
    response = api.get("/request-logs", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == next(iter(params))


def test_detail_truncated_preview(api: httpx.Client, platform: LocalPlatform) -> None:
    customer = customer_id_of(api)
    big = b"x" * (PREVIEW_LIMIT + 100)
    event = UsageEvent(
        id=uuid.uuid4(),
        customer_id=customer,
        service_id=uuid.uuid4(),
        channel="managed",
        enrollment_id=None,
        event_timestamp=datetime.now(UTC),
        status_code=200,
        success=True,
        usage=Usage(input_tokens=3, bytes_in=10, bytes_out=20, duration_ms=1500),
        charge=Decimal("0.00010"),
        currency="USD",
        pricing_bundle_id="bundle-1",
    )
    row = record(
        customer,
        uuid.uuid4().hex,
        request_content_type="text/plain",
        request_body_preview=big,
        usage_event_id=event.id,
    )
    insert(platform, [row], [event])
    detail = api.get(f"/request-logs/{row.log_id}").json()
    assert detail["log_id"] == str(row.log_id)
    assert detail["customer_id"] == str(customer)
    assert detail["user_request"]["method"] == "POST"
    assert detail["user_request"]["body"] == "x" * PREVIEW_LIMIT  # cut on write
    assert detail["upstream_response"]["status_code"] == 200
    assert detail["upstream_response"]["body"] == {"ok": True}
    assert detail["usage_event"] == {
        "customer_charge": "0.0001",
        "usage_metrics": {
            "input_tokens": 3,
            "bytes_in": 10,
            "bytes_out": 20,
            "duration_seconds": 1.5,
        },
        "pricing_bundle_id": "bundle-1",
    }
    assert detail["error"] is None


def test_detail_complete_mode_reads_full_bodies(api: httpx.Client, platform: LocalPlatform) -> None:
    customer = customer_id_of(api)
    log_id = uuid.uuid4()
    full_request = json.dumps({"text": "y" * (PREVIEW_LIMIT * 2)}).encode()
    full_response = json.dumps({"echo": "z" * (PREVIEW_LIMIT * 3)}).encode()
    store = ObjectStore.for_data_dir(platform.data_dir)
    request_key = body_object_key(customer, log_id, "request")
    response_key = body_object_key(customer, log_id, "response")
    store.put_bytes(request_key, full_request)
    store.put_bytes(response_key, full_response)
    row = record(
        customer,
        uuid.uuid4().hex,
        log_id=log_id,
        request_body_preview=full_request,
        request_body_key=request_key,
        response_body_preview=full_response[:PREVIEW_LIMIT],
        response_body_truncated=True,
        response_body_key=response_key,
    )
    insert(platform, [row])
    detail = api.get(f"/request-logs/{log_id}").json()
    assert detail["user_request"]["body"] == json.loads(full_request)
    assert detail["upstream_response"]["body"] == json.loads(full_response)


def test_gateway_error_row_has_no_upstream_response(
    api: httpx.Client, platform: LocalPlatform
) -> None:
    customer = customer_id_of(api)
    row = record(
        customer, uuid.uuid4().hex, status_code=None, error_source="gateway", error_type="timeout"
    )
    insert(platform, [row])
    detail = api.get(f"/request-logs/{row.log_id}").json()
    assert detail["upstream_response"] is None
    assert detail["error"] == {"category": "timeout", "request_id": row.log_id.hex}


def test_unstorable_caller_text_is_fitted_not_fatal_to_the_batch(
    api: httpx.Client, platform: LocalPlatform
) -> None:
    # Path, content type and method come from the caller: too long for their
    # columns, or holding NUL, they must not fail the batch (PostgreSQL refuses
    # both) -- the ordinary row written with them must survive too.
    customer = customer_id_of(api)
    marker = uuid.uuid4().hex
    rows = [
        record(customer, marker, path=f"/p/echo/{marker}/" + "x" * 5000),
        record(customer, marker, path=f"/p/echo/{marker}/a\x00b", method="PROPFIND-" + "X" * 40),
        record(customer, marker, request_content_type="text/plain; x=" + "y" * 500),
        record(customer, marker, response_headers={"x-odd": "v\x00" * 5000}),
        record(customer, marker),
    ]
    insert(platform, rows)
    for row in rows:
        detail = api.get(f"/request-logs/{row.log_id}")
        assert detail.status_code == 200, detail.text
    long_path = api.get(f"/request-logs/{rows[0].log_id}").json()
    assert long_path["user_request"]["path"].startswith(f"/p/echo/{marker}/xxx")
    assert len(long_path["user_request"]["path"]) == 2000


def test_other_customers_logs_are_invisible(
    api: httpx.Client, other: httpx.Client, platform: LocalPlatform
) -> None:
    customer = customer_id_of(api)
    marker = uuid.uuid4().hex
    row = record(customer, marker)
    insert(platform, [row])
    assert api.get(f"/request-logs/{row.log_id}").status_code == 200
    assert other.get(f"/request-logs/{row.log_id}").status_code == 404
    assert listed(other, user_request_path=f"p/echo/{marker}")["total_count"] == 0
    assert api.get(f"/request-logs/{uuid.uuid4()}").status_code == 404

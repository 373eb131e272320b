"""Pure units: the logging stage's capture and the batched log writer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from unitysvc_server.domain.request_logs import RequestLogRecord
from unitysvc_server.gateway.logwriter import LogWriter
from unitysvc_server.gateway.pipeline import (
    BytesBody,
    Caller,
    GatewayRequest,
    GatewayResponse,
)
from unitysvc_server.gateway.stages.logging import (
    PREVIEW_BYTES,
    LogMode,
    logging_stage,
    opt_in_mode,
    redact_path,
)
from unitysvc_server.routing.paths import parse_gateway_path

CUSTOMER = uuid.UUID(int=5)


def make_request(
    path: str, body: bytes = b"{}", headers: list[tuple[bytes, bytes]] | None = None
) -> GatewayRequest:
    raw, _, query = path.partition("?")
    return GatewayRequest(
        "POST",
        parse_gateway_path(raw, query.encode()),
        path,
        headers
        or [(b"authorization", b"Bearer svcpass_abc"), (b"content-type", b"application/json")],
        body,
        Caller(CUSTOMER),
    )


async def upstream(request: GatewayRequest) -> GatewayResponse:
    request.trace.service_id = uuid.UUID(int=9)
    return GatewayResponse(200, [(b"content-type", b"text/plain")], BytesBody(b"r" * 20000))


async def drain(response: GatewayResponse) -> bytes:
    try:
        return b"".join([c async for c in response.body])
    finally:
        await response.body.aclose()


def stage(preference: LogMode | None, records: list[RequestLogRecord]):  # type: ignore[no-untyped-def]
    async def lookup(customer_id: uuid.UUID) -> LogMode | None:
        assert customer_id == CUSTOMER
        return preference

    return logging_stage(upstream, submit=records.append, preference=lookup)


async def test_not_logged_without_wrapper_or_preference() -> None:
    records: list[RequestLogRecord] = []
    await drain(await stage(None, records)(make_request("g/x")))
    assert records == []


async def test_wrapper_logs_previews_redacted() -> None:
    records: list[RequestLogRecord] = []
    body = b"q" * 10000
    await drain(await stage(None, records)(make_request("l/g/x?api_key=sekret&n=1", body)))
    (record,) = records
    assert record.mode == "truncated"
    assert record.service_id == uuid.UUID(int=9)
    assert record.status_code == 200
    assert len(record.request_body_preview) == PREVIEW_BYTES and record.request_body_truncated
    assert len(record.response_body_preview) == PREVIEW_BYTES and record.response_body_truncated
    assert record.request_body_full is None and record.response_body_full is None
    assert "authorization" not in record.request_headers
    assert "sekret" not in record.path and "n=1" in record.path


async def test_complete_mode_keeps_full_bodies() -> None:
    records: list[RequestLogRecord] = []
    await drain(await stage(None, records)(make_request("l/g/x?_complete", b"b" * 9000)))
    (record,) = records
    assert record.mode == "complete"
    assert record.request_body_full == b"b" * 9000
    assert record.response_body_full == b"r" * 20000
    assert not record.response_body_truncated


async def test_preference_and_opt_in_header() -> None:
    records: list[RequestLogRecord] = []
    await drain(await stage("complete", records)(make_request("l/g/x")))
    assert records[-1].mode == "complete"
    request = make_request("g/x", headers=[(b"x-unitysvc-log-request", b"1")])
    await drain(await stage(None, records)(request))
    assert records[-1].mode == "truncated"
    assert len(records) == 2


async def test_aborted_response_still_logged() -> None:
    records: list[RequestLogRecord] = []
    response = await stage("truncated", records)(make_request("g/x"))
    await response.body.aclose()
    assert records[0].error_type == "response_interrupted"


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        (None, None),
        (b"1", "truncated"),
        (b"true", "truncated"),
        (b"complete", "complete"),
        (b"0", None),
    ],
)
def test_opt_in_mode(value: bytes | None, mode: str | None) -> None:
    assert opt_in_mode(value) == mode


def test_redact_path() -> None:
    assert redact_path("p/x?token=abc&model=m&x_api_key=1") == (
        "p/x?token=***redacted***&model=m&x_api_key=***redacted***"
    )


async def test_writer_batches_and_drains_on_close() -> None:
    batches: list[list[int]] = []
    gate = asyncio.Event()

    async def write(batch: Sequence[int]) -> None:
        await gate.wait()
        batches.append(list(batch))

    writer: LogWriter[int] = LogWriter(write, batch_size=3)
    writer.start()
    for i in range(7):
        writer.submit(i)
    gate.set()
    await writer.close()
    assert sum(batches, []) == list(range(7))
    assert max(len(b) for b in batches) <= 3
    assert writer.written == 7 and writer.pending == 0


async def test_writer_retries_failed_batch() -> None:
    attempts: list[int] = []

    async def flaky(batch: Sequence[int]) -> None:
        attempts.append(len(batch))
        if len(attempts) < 3:
            raise RuntimeError("database busy")

    writer: LogWriter[int] = LogWriter(flaky, retry_delays=(0, 0, 0))
    writer.start()
    writer.submit(1)
    await writer.flush()
    await writer.close()
    assert writer.written == 1 and writer.dropped == 0
    assert len(attempts) == 3

"""OpenTelemetry traces of gateway calls, received by an OTLP/HTTP collector on loopback.

The platform runs with ``otel_endpoint`` pointing at :class:`OtlpReceiver`, a small HTTP
server in this process that decodes each export with ``opentelemetry-proto``'s own
protobuf classes. The loopback :class:`FakeUpstream` shows the ``traceparent`` the
upstream received, so the test can check that it carries the caller's trace.
"""

from __future__ import annotations

import gzip
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import FakeUpstream, wait_for
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from unitysvc_server.testing import LocalPlatform

DATA_DIR = Path(__file__).parent / "data"
FAKE_ORIGIN = "https://fake.gwtest.example.com"


class OtlpReceiver:
    """An OTLP/HTTP traces endpoint on 127.0.0.1 that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.take(self.path, ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def take(self, path: str, export: ExportTraceServiceRequest) -> None:
        with self._lock:
            self.paths.append(path)
            for resource_spans in export.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "attributes": {
                                    a.key: getattr(a.value, a.value.WhichOneof("value"))
                                    for a in span.attributes
                                },
                            }
                        )

    def of_trace(self, trace_id: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {s["name"]: s for s in self.spans if s["trace_id"] == trace_id}

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def platform(fake: FakeUpstream, receiver: OtlpReceiver) -> Iterator[LocalPlatform]:
    with LocalPlatform(
        demo=True,
        catalogs=[DATA_DIR / "gwtest"],
        upstreams={FAKE_ORIGIN: fake.url},
        otel_endpoint=receiver.url,
    ) as running:
        yield running


def upstream_traceparent(fake: FakeUpstream, marker: str) -> str:
    (hit,) = [hit for hit in fake.hits if marker in hit["path"]]
    traceparent: str = hit["headers"]["traceparent"]
    return traceparent


def spans_of(receiver: OtlpReceiver, trace_id: str, names: set[str]) -> dict[str, Any]:
    wait_for(
        lambda: names <= set(receiver.of_trace(trace_id)),
        timeout=20,
        what=f"spans {sorted(names)} of trace {trace_id}",
    )
    return receiver.of_trace(trace_id)


def test_a_callers_trace_is_continued_through_the_stages_to_the_upstream(
    gateway: httpx.Client, fake: FakeUpstream, receiver: OtlpReceiver, fake_id: str
) -> None:
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    marker = f"m{uuid.uuid4().hex[:12]}"
    response = gateway.post(
        f"/p/{fake_id}/{marker}",
        json={"q": 1},
        headers={"traceparent": f"00-{trace_id}-{caller_span}-01", "tracestate": "a=b"},
    )
    assert response.status_code == 200, response.text

    version, sent_trace, sent_parent, flags = upstream_traceparent(fake, marker).split("-")
    assert (version, sent_trace, flags) == ("00", trace_id, "01")
    assert sent_parent != caller_span

    names = {"gateway p", "gateway.authenticate", "gateway.resolve", "gateway.upstream"}
    spans = spans_of(receiver, trace_id, names | {"gateway.meter"})
    server = spans["gateway p"]
    assert server["parent_span_id"] == caller_span
    assert server["attributes"]["http.response.status_code"] == 200
    assert server["attributes"]["unitysvc.service_id"] == fake_id
    for child in ("gateway.authenticate", "gateway.resolve", "gateway.upstream", "gateway.meter"):
        assert spans[child]["parent_span_id"] == server["span_id"], child
    upstream = spans["gateway.upstream"]
    # The upstream's parent is the gateway's client span.
    assert upstream["span_id"] == sent_parent
    assert upstream["attributes"]["server.address"] == "127.0.0.1"
    assert spans["gateway.resolve"]["attributes"]["unitysvc.service_id"] == fake_id
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}


def test_a_call_without_traceparent_starts_a_trace_the_upstream_joins(
    gateway: httpx.Client, fake: FakeUpstream, receiver: OtlpReceiver, fake_id: str
) -> None:
    marker = f"m{uuid.uuid4().hex[:12]}"
    assert gateway.post(f"/l/p/{fake_id}/{marker}", json={}).status_code == 200
    _, trace_id, parent, _ = upstream_traceparent(fake, marker).split("-")
    spans = spans_of(receiver, trace_id, {"gateway p", "gateway.upstream"})
    assert spans["gateway p"]["parent_span_id"] == ""
    assert spans["gateway.upstream"]["span_id"] == parent


def test_request_log_writes_are_traced(
    gateway: httpx.Client, receiver: OtlpReceiver, fake_id: str
) -> None:
    def writes() -> list[dict[str, Any]]:
        return [s for s in receiver.spans if s["name"] == "gateway.log_write"]

    seen = len(writes())
    assert gateway.post(f"/l/p/{fake_id}/logged", json={}).status_code == 200
    wait_for(lambda: len(writes()) > seen, timeout=20, what="a gateway.log_write span")
    assert writes()[-1]["attributes"]["unitysvc.batch_size"] >= 1


def test_refused_requests_are_traced_too(gateway: httpx.Client, receiver: OtlpReceiver) -> None:
    trace_id = uuid.uuid4().hex
    response = gateway.get(
        "/g/no-such-group/x", headers={"traceparent": f"00-{trace_id}-{'1' * 16}-01"}
    )
    assert response.status_code == 404
    spans = spans_of(receiver, trace_id, {"gateway g"})
    assert spans["gateway g"]["attributes"]["http.response.status_code"] == 404


def test_a_scheduled_run_is_a_trace_of_its_own(
    gateway: httpx.Client, fake: FakeUpstream, receiver: OtlpReceiver, fake_id: str
) -> None:
    marker = f"m{uuid.uuid4().hex[:12]}"
    registered = gateway.post(f"/d/p/{fake_id}/{marker}?_in=0s", json={"run": 1})
    assert registered.status_code == 202, registered.text
    wait_for(
        lambda: any(marker in hit["path"] for hit in fake.hits),
        what="the scheduled run's upstream call",
    )
    _, trace_id, parent, _ = upstream_traceparent(fake, marker).split("-")
    spans = spans_of(receiver, trace_id, {"gateway.scheduled_run", "gateway.upstream"})
    run = spans["gateway.scheduled_run"]
    assert run["parent_span_id"] == ""
    assert spans["gateway.upstream"]["span_id"] == parent
    assert spans["gateway.resolve"]["parent_span_id"] == run["span_id"]

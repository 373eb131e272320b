"""What ``--metrics`` costs a gateway call: the two observers, timed in process.

A call with metrics on runs :meth:`PlatformMetrics.observe_gateway` once (at the door,
after its last byte) and :meth:`PlatformMetrics.observe_usage` once per upstream call
(when metering has read its body). Both are timed here on a realistic request (a ``p/``
call that an upstream answered, with tokens and a charge), ``--calls`` times each, and
printed per call in microseconds: set them against the gateway's ~0.4 ms per call
(``bench_gateway.py``, which also runs whole calls with ``--metrics``). Usage::

    python bench/bench_metrics.py [--calls 200000]
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from unitysvc_server.domain.usage import Usage, UsageEvent
from unitysvc_server.gateway.pipeline import BytesBody, Caller, GatewayRequest, GatewayResponse
from unitysvc_server.observability.metrics import PlatformMetrics
from unitysvc_server.routing.paths import parse_gateway_path


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    service_id = uuid.uuid4()
    service = SimpleNamespace(name="demo-small")
    catalog = SimpleNamespace(service=lambda _id: service)
    runtime: Any = SimpleNamespace(catalog=catalog, hooks=SimpleNamespace(scheduler_stats=None))
    metrics = PlatformMetrics(runtime)
    request = GatewayRequest(
        "POST", parse_gateway_path(f"p/{service_id}/chat"), "", [], b"", Caller(uuid.uuid4())
    )
    request.trace.service_id, request.trace.upstream_ms = service_id, 0.3
    response = GatewayResponse(200, [(b"content-type", b"application/json")], BytesBody(b""))
    event = UsageEvent(
        id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        service_id=service_id,
        channel="managed",
        enrollment_id=None,
        event_timestamp=datetime.now(UTC),
        status_code=200,
        success=True,
        usage=Usage(input_tokens=12, output_tokens=30, bytes_in=200, bytes_out=600),
        charge=Decimal("0.0000042"),
        currency="USD",
        pricing_bundle_id=None,
    )
    started = time.perf_counter()
    for _ in range(args.calls):
        metrics.observe_gateway("/p/x", request, response, 200, started, started)
    door = time.perf_counter()
    for _ in range(args.calls):
        metrics.observe_usage(event)
    usage = time.perf_counter()
    per_door = (door - started) / args.calls * 1e6
    per_usage = (usage - door) / args.calls * 1e6
    print(f"observe_gateway {per_door:.2f} us/call, observe_usage {per_usage:.2f} us/call")
    print(f"together {per_door + per_usage:.2f} us per metered gateway call")


if __name__ == "__main__":
    main()

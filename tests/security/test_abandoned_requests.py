"""Finding 5: a caller that hangs up cancels its upstream call at once and frees the connection.

50 callers send a request the upstream holds (no answer) or streams forever, then hang
up. The gateway must notice each disconnect, cancel the upstream call — buffered or
streaming — and close the upstream connection (a half-read connection is never pooled),
long before the upstream's own timeouts. The counting upstream tells how many of its
connections are still busy. A logged dispatch records the cancellation.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from security_helpers import SECCAT, SECCAT_ORIGIN, CountingUpstream, http_request, wait_for

import unitysvc
from unitysvc_server.testing import LocalPlatform

CALLERS = 50


@pytest.fixture(scope="module")
def held() -> Iterator[CountingUpstream]:
    with CountingUpstream() as running:
        yield running


@pytest.fixture(scope="module")
def platform(held: CountingUpstream) -> Iterator[LocalPlatform]:
    with LocalPlatform(catalogs=[SECCAT], upstreams={SECCAT_ORIGIN: held.url}) as running:
        yield running


@pytest.mark.parametrize("kind", ["hold", "stream"])
def test_callers_hanging_up_release_their_upstream_connections(
    platform: LocalPlatform, held: CountingUpstream, kind: str
) -> None:
    key = platform.create_customer(f"hangup-{kind}")
    service = platform.app.runtime.catalog.service_by_name("guarded").id
    request = http_request("POST", f"/p/{service}/{kind}", key, b"{}")
    sockets = []
    try:
        for _ in range(CALLERS):
            sock = socket.create_connection(("127.0.0.1", platform.settings.port), timeout=10)
            sock.sendall(request)
            sockets.append(sock)
        wait_for(lambda: held.busy[kind] == CALLERS, what=f"{CALLERS} upstream calls")
    finally:
        for sock in sockets:
            sock.close()
    started = time.monotonic()
    wait_for(lambda: held.busy[kind] == 0, timeout=5, what="the upstream connections to close")
    # Measured for the report: how long the last connection stayed after the hang-up.
    print(f"{kind}: {CALLERS} upstream connections closed {time.monotonic() - started:.3f}s after")


def test_a_cancelled_dispatch_is_logged_as_cancelled_by_the_client(
    platform: LocalPlatform, held: CountingUpstream
) -> None:
    key = platform.create_customer("hangup-logged")
    service = platform.app.runtime.catalog.service_by_name("guarded").id
    before = held.busy["hold"]
    sock = socket.create_connection(("127.0.0.1", platform.settings.port), timeout=10)
    try:
        sock.sendall(http_request("POST", f"/l/p/{service}/logged/hold", key, b"{}"))
        wait_for(lambda: held.busy["hold"] == before + 1, what="the upstream call")
    finally:
        sock.close()
    with unitysvc.Client(key, base_url=platform.api_url) as client:
        deadline = time.monotonic() + 10
        rows = []
        while not rows and time.monotonic() < deadline:
            rows = [r for r in client.request_logs.list().items if "logged" in r.user_request_path]
            time.sleep(0.05)
    assert rows, "no request-log row for the cancelled dispatch"
    assert (rows[0].error_source, rows[0].error_type) == ("client", "client_cancelled")

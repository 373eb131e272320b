"""End to end: what the gateway forwards upstream and back, over real sockets."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from gateway_helpers import FakeUpstream

from unitysvc_server.testing import LocalPlatform


def test_hop_by_hop_and_credential_headers_stay_behind(
    platform: LocalPlatform, key: str, service_id: Callable[[str], str], marker: str
) -> None:
    url = f"{platform.gateway_url}/p/{service_id('fake')}/{marker}"
    headers = {
        "Authorization": f"Bearer {key}",
        "Connection": "keep-alive, X-Hop-Named",
        "X-Hop-Named": "named in Connection",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Authorization": "Basic c2VjcmV0",
        "X-Other-Key": key,  # the customer's key under any name
        "X-Unitysvc-Log-Request": "0",  # the gateway's own control header
        "X-End-To-End": "kept",
    }
    with httpx.Client() as http:
        response = http.post(url, json={"k": "v"}, headers=headers)
    assert response.status_code == 200, response.text
    seen = response.json()["headers"]
    assert seen["x-end-to-end"] == "kept"
    for dropped in (
        "x-hop-named",
        "keep-alive",
        "te",
        "proxy-authorization",
        "x-other-key",
        "x-unitysvc-log-request",
        "authorization",
    ):
        assert dropped not in seen, dropped
    assert key not in response.text


def test_methods_status_and_response_headers_pass_through(
    platform: LocalPlatform, key: str, service_id: Callable[[str], str], fake: FakeUpstream
) -> None:
    base = f"{platform.gateway_url}/p/{service_id('fake')}"
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(headers=auth) as http:
        for method in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS"):
            response = http.request(method, f"{base}/m/{method}?a=1&b=%20x")
            assert response.status_code == 200, (method, response.text)
            assert response.json()["method"] == method
            assert response.json()["query"] == "a=1&b=%20x"
        upstream_error = http.post(f"{base}/status/418", json={})
        assert upstream_error.status_code == 418
        # The upstream's own error body is passed through, not replaced.
        assert upstream_error.json() == {"status": 418}
        custom = http.get(f"{base}/x/with-headers")
    assert custom.status_code == 200
    assert custom.headers["x-upstream-custom"] == "kept"
    assert "proxy-authenticate" not in custom.headers
    assert "keep-alive" not in custom.headers
    assert custom.json() == {"with": "headers"}

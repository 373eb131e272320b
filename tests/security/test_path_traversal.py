"""Finding 8: a caller cannot leave the channel's ``base_url`` with dot-segments.

A sub-path is appended to the channel's ``base_url`` and sent with the channel's
credential, so a ``..`` segment — plain, percent-encoded, double-encoded, or hidden
behind an encoded slash or backslash — would point the credential at another path of
the upstream host. Every such path is refused with 400 before anything is sent. Requests
are written to the socket byte for byte: HTTP clients normalise ``..`` away themselves.
"""

from __future__ import annotations

import json

import pytest
from security_helpers import CountingUpstream, http_request, raw_exchange, response_body

from unitysvc_server.testing import LocalPlatform

TRAVERSALS = [
    "../../x",
    "./x",
    "..%2f..%2fx",
    "..%2F..%2Fx",
    "%2e%2e/%2e%2e/x",
    "%2E%2E/x",
    "..%5c..%5cx",
    "%252e%252e/x",
    "ok/..",
    "ok/%2e",
]


@pytest.mark.parametrize("traversal", TRAVERSALS)
def test_dot_segments_in_the_sub_path_are_refused_before_the_upstream(
    platform: LocalPlatform,
    upstream: CountingUpstream,
    key: str,
    guarded_id: str,
    marker: str,
    traversal: str,
) -> None:
    port = platform.settings.port
    target = f"/p/{guarded_id}/{marker}/{traversal}"
    status, response = raw_exchange(port, http_request("POST", target, key, b"{}"))
    assert status == 400, response[:500]
    body = json.loads(response_body(response))
    assert body["error_type"] == "bad_path"
    assert "dot-segment" in body["detail"]
    assert upstream.targets(marker) == []


@pytest.mark.parametrize(
    "wrapper", ["f/p/{id}/{m}?_else=p/{id}/{m}/..%2fx", "t/p/{id}/{m}?_to=p/{id}/../x"]
)
def test_dot_segments_in_a_secondary_path_are_refused(
    platform: LocalPlatform,
    upstream: CountingUpstream,
    key: str,
    guarded_id: str,
    marker: str,
    wrapper: str,
) -> None:
    target = "/" + wrapper.format(id=guarded_id, m=marker)
    status, response = raw_exchange(
        platform.settings.port, http_request("POST", target, key, b"{}")
    )
    assert status == 400, response[:500]
    assert "dot-segment" in json.loads(response_body(response))["detail"]
    assert upstream.targets(marker) == []


def test_an_encoded_slash_inside_a_segment_still_passes(
    platform: LocalPlatform, upstream: CountingUpstream, key: str, guarded_id: str, marker: str
) -> None:
    # Model names such as "org/model" travel as one encoded segment; that is not a traversal.
    target = f"/p/{guarded_id}/{marker}/models/meta-llama%2FLlama-3..1"
    status, response = raw_exchange(platform.settings.port, http_request("GET", target, key))
    assert status == 200, response[:500]
    assert upstream.targets(marker) == [f"/base/v1/{marker}/models/meta-llama%2FLlama-3..1"]

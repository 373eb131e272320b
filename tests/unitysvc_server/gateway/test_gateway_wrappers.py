"""End to end: streaming, upstream failures, and the l/ m/ f/ t/ wrappers alone and composed."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

import httpx
from gateway_helpers import FakeUpstream, wait_for

import unitysvc
from unitysvc_server.testing import LocalPlatform

STREAM_CHAT = {
    "model": "demo-small",
    "stream": True,
    "messages": [{"role": "user", "content": "one two three"}],
}


def enc(path: str) -> str:
    return quote(path, safe="")


def test_first_sse_event_arrives_before_upstream_finishes(
    platform: LocalPlatform,
    key: str,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
    marker: str,
) -> None:
    url = f"{platform.gateway_url}/p/{service_id('fake')}/slow-sse/{marker}"
    with (
        httpx.Client(timeout=10) as http,
        http.stream("POST", url, json={}, headers={"Authorization": f"Bearer {key}"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.iter_raw()
        first = next(chunks)
        # The upstream is still holding the rest of the stream back.
        assert b'"n": 1' in first and b"[DONE]" not in first
        fake.release(marker)
        rest = b"".join(chunks)
    assert b'"n": 2' in rest and rest.endswith(b"data: [DONE]\n\n")


def test_large_stream_passes_through_intact(
    client: unitysvc.Client, service_id: Callable[[str], str]
) -> None:
    size = 8 * 1024 * 1024 + 17
    response = client.dispatch(f"p/{service_id('fake')}/big/{size}", method="GET")
    assert response.status_code == 200
    assert len(response.content) == size


def test_upstream_connect_failure_and_timeout(
    client: unitysvc.Client, service_id: Callable[[str], str]
) -> None:
    dead = client.dispatch(f"p/{service_id('dead')}/x", json={})
    assert dead.status_code == 502
    assert dead.json()["error_source"] == "upstream"
    assert dead.json()["error_type"] == "upstream_connect_error"
    started = time.monotonic()
    slow = client.dispatch("g/slow/sleep/3", json={})
    assert slow.status_code == 504
    assert slow.json()["error_source"] == "upstream"
    assert slow.json()["error_type"] == "upstream_timeout"
    assert time.monotonic() - started < 2.5  # the group's 300 ms timeout, not the upstream's 3 s


def test_memoize_hit_does_not_reach_upstream(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    path = f"m/p/{service_id('fake')}/{marker}?_ttl=5m"
    first = client.dispatch(path, json={"q": 1})
    assert first.headers["x-unitysvc-cache"] == "miss"
    wait_for(lambda: client.dispatch(path, json={"q": 1}).headers["x-unitysvc-cache"] == "hit")
    hits = fake.count(f"/{marker}")
    second = client.dispatch(path, json={"q": 1})
    assert second.headers["x-unitysvc-cache"] == "hit"
    assert second.content == first.content
    assert fake.count(f"/{marker}") == hits == 1
    # Another body, or _renew, is a fresh call.
    assert client.dispatch(path, json={"q": 2}).headers["x-unitysvc-cache"] == "miss"
    renewed = client.dispatch(f"{path}&_renew", json={"q": 1})
    assert renewed.headers["x-unitysvc-cache"] == "miss"
    assert fake.count(f"/{marker}") == 3


def test_memoize_is_per_customer_and_skips_errors(
    platform: LocalPlatform,
    client: unitysvc.Client,
    service_id: Callable[[str], str],
    fake: FakeUpstream,
    marker: str,
) -> None:
    path = f"m/p/{service_id('fake')}/{marker}"
    client.dispatch(path, json={})
    wait_for(lambda: client.dispatch(path, json={}).headers["x-unitysvc-cache"] == "hit")
    with platform.client(platform.create_customer(f"other-{marker}")) as other:
        assert other.dispatch(path, json={}).headers["x-unitysvc-cache"] == "miss"
    failing = f"m/p/{service_id('fake')}/{marker}/status/500"
    for _ in range(2):
        assert client.dispatch(failing, json={}).status_code == 500
    assert fake.count(f"/{marker}/status/500") == 2


def test_memoized_stream_replays_byte_for_byte(client: unitysvc.Client) -> None:
    path = "m/g/llm/v1/chat/completions?_ttl=60s"
    first = client.dispatch(path, json=STREAM_CHAT)
    assert first.headers["x-unitysvc-cache"] == "miss"
    assert first.text.rstrip().endswith("data: [DONE]")
    wait_for(lambda: client.dispatch(path, json=STREAM_CHAT).headers["x-unitysvc-cache"] == "hit")
    replay = client.dispatch(path, json=STREAM_CHAT)
    assert replay.content == first.content
    assert replay.headers["content-type"].startswith("text/event-stream")


def test_failover_from_down_dead_and_slow(
    client: unitysvc.Client, service_id: Callable[[str], str]
) -> None:
    echo = f"p/{service_id('echo')}"
    for primary in (f"p/{service_id('demo-down')}", f"p/{service_id('dead')}", "g/slow/sleep/3"):
        response = client.dispatch(f"f/{primary}?_else={enc(echo)}", json={"from": primary})
        assert response.status_code == 200, (primary, response.text)
        assert response.headers["x-unitysvc-failover"] == "1"
        assert response.json()["body"] == {"from": primary}
    # A healthy primary answers itself; a 4xx is an answer, not a failure.
    down = enc(f"p/{service_id('demo-down')}")
    ok = client.dispatch(f"f/{echo}?_else={down}", json={})
    assert ok.status_code == 200 and "x-unitysvc-failover" not in ok.headers
    not_found = client.dispatch(f"f/p/{service_id('fake')}/status/404?_else={enc(echo)}", json={})
    assert not_found.status_code == 404


def test_tee_reaches_secondary_while_primary_answers_first(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    fake_id = service_id("fake")
    secondary = f"p/{fake_id}/{marker}/hold/{marker}"
    started = time.monotonic()
    response = client.dispatch(f"t/p/{fake_id}/{marker}/primary?_to={enc(secondary)}", json={})
    assert response.status_code == 200
    assert response.json()["path"] == f"/{marker}/primary"
    # The copy is held by the upstream, yet the primary has already answered.
    wait_for(lambda: fake.count(f"/{marker}/hold") == 1, what="the tee copy")
    assert time.monotonic() - started < 5
    fake.release(marker)


def test_wrappers_composed_in_any_order(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    fake_id = service_id("fake")
    copy = enc(f"p/{fake_id}/{marker}/copy")
    fallback = enc(f"p/{fake_id}/{marker}/fallback")
    # Primary fails (500): failover answers, the answer is cached, a copy is sent.
    # The official SDK's double "?" when chaining wrappers is accepted as is.
    path = f"t/m/l/f/p/{fake_id}/{marker}/status/500?_ttl=5m?_else={fallback}&_to={copy}"
    first = client.dispatch(path, json={"n": 1})
    assert first.status_code == 200
    assert first.json()["path"] == f"/{marker}/fallback"
    assert first.headers["x-unitysvc-cache"] == "miss"
    wait_for(lambda: fake.count(f"/{marker}/copy") == 1, what="the tee copy")
    wait_for(lambda: client.dispatch(path, json={"n": 1}).headers["x-unitysvc-cache"] == "hit")
    # Hits skip the failing primary and the fallback; the tee still copies each call.
    assert fake.count(f"/{marker}/status/500") == 1
    assert fake.count(f"/{marker}/fallback") == 1
    wait_for(lambda: fake.count(f"/{marker}/copy") >= 2, what="copies of cached calls")

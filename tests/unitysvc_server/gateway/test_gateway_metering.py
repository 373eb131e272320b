"""Usage metering end to end: gateway calls -> usage events -> ``/v1/usage/cycle`` and logs.

Expected charges are computed here from the catalog's list prices and the token counts
the demo upstream reports (its ``usage`` object), with ``Decimal``, independently of the
server's pricing code.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from gateway_helpers import wait_for

from unitysvc_server.testing import LocalPlatform

MILLION = Decimal(1_000_000)


def chat(words: str, **extra: Any) -> dict[str, Any]:
    return {"model": "demo-small", "messages": [{"role": "user", "content": words}], **extra}


def gateway(platform: LocalPlatform, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def cycle(platform: LocalPlatform, key: str) -> dict[str, Any]:
    with platform.http(key) as api:
        response = api.get("/usage/cycle")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def entry(platform: LocalPlatform, key: str, service: str) -> dict[str, Any] | None:
    found = [s for s in cycle(platform, key)["services"] if s["service_name"] == service]
    return found[0] if found else None


def wait_requests(platform: LocalPlatform, key: str, service: str, count: int) -> dict[str, Any]:
    def done() -> bool:
        got = entry(platform, key, service)
        return got is not None and got["request_count"] >= count

    wait_for(done, what=f"{count} metered calls of {service}")
    got = entry(platform, key, service)
    assert got is not None and got["request_count"] == count, got
    return got


def token_price(platform: LocalPlatform, service: str) -> tuple[Decimal, Decimal]:
    listed = platform.app.runtime.catalog.service_by_name(service)
    assert listed is not None and listed.list_price is not None
    price = listed.list_price
    assert price["type"] == "one_million_tokens"
    return Decimal(price["input"]), Decimal(price["output"])


def sse_events(text: str) -> list[Any]:
    return [
        line[6:] if line[6:] == "[DONE]" else json.loads(line[6:])
        for line in text.splitlines()
        if line.startswith("data: ")
    ]


def test_buffered_and_streamed_calls_are_charged_catalog_price_times_tokens(
    platform: LocalPlatform, key: str
) -> None:
    inp, out = token_price(platform, "demo-small")
    with gateway(platform, key) as gw:
        buffered = gw.post("/demo-small/v1/chat/completions", json=chat("one two three four"))
        assert buffered.status_code == 200, buffered.text
        usage = buffered.json()["usage"]
        streamed = gw.post(
            "/demo-small/v1/chat/completions", json=chat("one two three four", stream=True)
        )
        assert streamed.status_code == 200
    # The caller did not ask for usage in the stream: the chunk the gateway asked for is
    # not passed on, so every event is the stream the caller asked for.
    events = sse_events(streamed.text)
    assert events[-1] == "[DONE]"
    assert all(e["choices"] for e in events[:-1]), events
    assert all("usage" not in e for e in events[:-1])

    got = wait_requests(platform, key, "demo-small", 2)
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    expected = 2 * (inp * prompt + out * completion) / MILLION
    assert Decimal(got["customer_charge"]) == expected
    assert (got["success_count"], got["error_count"]) == (2, 0)
    assert got["usage_metrics"]["input_tokens"] == 2 * prompt
    assert got["usage_metrics"]["output_tokens"] == 2 * completion
    assert got["usage_metrics"]["total_tokens"] == 2 * usage["total_tokens"]
    assert got["channel"] == "managed"
    summary = cycle(platform, key)
    assert Decimal(summary["total_charge"]) == expected
    assert Decimal(summary["services_charge"]) == expected
    assert summary["currency"] == "USD"


def test_a_stream_that_asks_for_usage_keeps_its_usage_chunk(
    platform: LocalPlatform, key: str
) -> None:
    body = chat("a b c", stream=True, stream_options={"include_usage": True})
    with gateway(platform, key) as gw:
        streamed = gw.post("/demo-small/v1/chat/completions", json=body)
    events = sse_events(streamed.text)
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] > 0
    got = wait_requests(platform, key, "demo-small", 1)
    assert got["usage_metrics"]["output_tokens"] == usage_chunk["usage"]["completion_tokens"]


def test_per_request_price_and_upstream_errors(platform: LocalPlatform, key: str) -> None:
    sent = 0
    with gateway(platform, key) as gw:
        for path in ("/gwtest/flat/a", "/gwtest/flat/b", "/gwtest/flat/status/503"):
            sent += len(gw.post(path, json={"x": 1}).request.content)
        missing = gw.post("/gwtest/flat/status/404", json={})
        assert missing.status_code == 404
        sent += len(missing.request.content)
    got = wait_requests(platform, key, "flat", 4)
    assert (got["success_count"], got["error_count"]) == (2, 2)
    # Constant price per successful request (the catalog says 0.001); errors cost nothing.
    assert Decimal(got["customer_charge"]) == 2 * Decimal("0.001")
    assert "input_tokens" not in got["usage_metrics"]  # the upstream reported none
    assert got["usage_metrics"]["bytes_in"] == sent


def test_gateway_errors_of_an_upstream_count_as_errors(platform: LocalPlatform, key: str) -> None:
    with gateway(platform, key) as gw:
        assert gw.post("/demo-down/v1/x", json={}).status_code == 503
        assert gw.post("/gwtest/dead/x", json={}).status_code == 502  # connection refused
    down = wait_requests(platform, key, "demo-down", 1)
    assert (down["success_count"], down["error_count"], down["customer_charge"]) == (0, 1, "0")
    dead = wait_requests(platform, key, "dead", 1)
    assert dead["error_count"] == 1


def test_responses_name_the_service_that_served_them(
    platform: LocalPlatform, key: str, service_id: Any
) -> None:
    with gateway(platform, key) as gw:
        direct = gw.post("/demo-small/v1/chat/completions", json=chat("hi"))
        grouped = gw.post("/g/llm/v1/chat/completions", json=chat("hi", model="demo-large"))
        missing = gw.post("/nowhere/at/all", json={})
    assert direct.headers["x-unitysvc-service-id"] == service_id("demo-small")
    assert grouped.headers["x-unitysvc-service-id"] == service_id("demo-large")
    assert "x-unitysvc-service-id" not in missing.headers  # no service served it


def test_cache_hits_are_not_metered(platform: LocalPlatform, key: str, service_id: Any) -> None:
    with gateway(platform, key) as gw:
        for _ in range(3):
            response = gw.post("/m/gwtest/flat/cached", json={"same": True})
            assert response.status_code == 200
        assert response.headers["x-unitysvc-cache"] == "hit"
        assert response.headers["x-unitysvc-service-id"] == service_id("flat")  # replayed
    got = wait_requests(platform, key, "flat", 1)
    assert Decimal(got["customer_charge"]) == Decimal("0.001")


def test_one_customer_never_sees_anothers_usage(platform: LocalPlatform, key: str) -> None:
    other = platform.create_customer(f"gw-{uuid.uuid4().hex[:10]}")
    with gateway(platform, key) as gw:
        gw.post("/gwtest/flat/mine", json={})
    wait_requests(platform, key, "flat", 1)
    theirs = cycle(platform, other)
    assert theirs["services"] == [] and theirs["total_charge"] == "0"


def test_the_request_log_carries_the_usage_event(platform: LocalPlatform, key: str) -> None:
    inp, out = token_price(platform, "demo-small")
    with gateway(platform, key) as gw:
        reply = gw.post("/l/demo-small/v1/chat/completions", json=chat("log me please"))
    usage = reply.json()["usage"]
    with platform.http(key) as api:

        def logged() -> list[dict[str, Any]]:
            page = api.get("/request-logs", params={"user_request_path": "l/demo-small"})
            items: list[dict[str, Any]] = page.json()["items"]
            return items

        wait_for(logged, what="the log row")
        detail = api.get(f"/request-logs/{logged()[0]['log_id']}").json()
    event = detail["usage_event"]
    charge = (inp * usage["prompt_tokens"] + out * usage["completion_tokens"]) / MILLION
    assert Decimal(event["customer_charge"]) == charge
    assert event["usage_metrics"]["input_tokens"] == usage["prompt_tokens"]
    assert event["usage_metrics"]["output_tokens"] == usage["completion_tokens"]
    assert event["pricing_bundle_id"]


@pytest.mark.parametrize("cycle_start", ["2026-02-15", "not-a-date"])
def test_cycle_start_must_be_a_month_start(
    platform: LocalPlatform, key: str, cycle_start: str
) -> None:
    with platform.http(key) as api:
        response = api.get("/usage/cycle", params={"cycle_start": cycle_start})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cycle_start"]


def test_a_past_cycle_is_complete_and_empty(platform: LocalPlatform, key: str) -> None:
    with platform.http(key) as api:
        body = api.get("/usage/cycle", params={"cycle_start": "2024-02-01"}).json()
    assert (body["cycle_start"], body["cycle_end"]) == ("2024-02-01", "2024-02-29")
    assert body["days_total"] == body["days_elapsed"] == 29
    assert body["services"] == [] and body["projected_total_charge"] == "0"

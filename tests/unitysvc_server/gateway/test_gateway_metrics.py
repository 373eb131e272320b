"""``/metrics`` moves with real gateway calls: requests, latency, tokens, cost, upstream
errors, rate-limit refusals, memoize hits, scheduler runs; labels stay bounded.

One platform with ``--metrics`` (admin token), the demo catalog (its upstream reports
``usage``), the gwtest catalog on the loopback :class:`FakeUpstream` and a per-customer
rate limit every test stays under except the one that goes over it. Each test scrapes
before and after and compares: counters are process-wide, customers are fresh per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import FakeUpstream, free_port, wait_for
from prometheus_client.parser import text_string_to_metric_families

from unitysvc_server.testing import LocalPlatform

DATA_DIR = Path(__file__).parent / "data"
FAKE_ORIGIN = "https://fake.gwtest.example.com"
DEAD_ORIGIN = "https://dead.gwtest.example.com"
ADMIN_TOKEN = "metrics-admin-token-0123456789"
BURST = 20
MILLION = Decimal(1_000_000)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def platform(fake: FakeUpstream) -> Iterator[LocalPlatform]:
    with LocalPlatform(
        demo=True,
        catalogs=[DATA_DIR / "gwtest"],
        upstreams={FAKE_ORIGIN: fake.url, DEAD_ORIGIN: f"http://127.0.0.1:{free_port()}"},
        metrics=True,
        admin_token=ADMIN_TOKEN,
        # Slow refill: a customer's 21st call in a row is refused, the 20 before are not.
        rate_limit_rps=0.01,
        rate_limit_burst=BURST,
    ) as running:
        yield running


def scrape(platform: LocalPlatform) -> Samples:
    response = httpx.get(
        f"{platform.gateway_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def wait_until_moved(
    platform: LocalPlatform, before: Samples, name: str, at_least: float, **labels: str
) -> Samples:
    """Scrape until ``name{labels}`` grew by ``at_least`` (the door records a request
    just after its last byte is sent, so the caller can be a little ahead)."""
    found: dict[str, Samples] = {}

    def grown() -> bool:
        found["now"] = scrape(platform)
        return moved(before, found["now"], name, **labels) >= at_least

    wait_for(grown, what=f"{name}{labels} to grow by {at_least}")
    return found["now"]


def chat(words: str) -> dict[str, Any]:
    return {"model": "demo-small", "messages": [{"role": "user", "content": words}]}


def test_calls_move_requests_latency_tokens_and_cost(
    platform: LocalPlatform, gateway: httpx.Client
) -> None:
    before = scrape(platform)
    usages = []
    for words in ("one two three", "four five six seven"):
        response = gateway.post("/demo-small/v1/chat/completions", json=chat(words))
        assert response.status_code == 200, response.text
        usages.append(response.json()["usage"])
    labels = {"route": "path", "status_class": "2xx", "service": "demo-small"}
    after = wait_until_moved(platform, before, "unitysvc_requests_total", 2, **labels)
    assert moved(before, after, "unitysvc_requests_total", **labels) == 2
    timing = {"route": "path", "service": "demo-small"}
    assert moved(before, after, "unitysvc_request_duration_seconds_count", **timing) == 2
    assert moved(before, after, "unitysvc_request_duration_seconds_sum", **timing) > 0
    assert moved(before, after, "unitysvc_gateway_overhead_seconds_count", route="path") == 2
    upstream = {"service": "demo-small"}
    assert moved(before, after, "unitysvc_upstream_duration_seconds_count", **upstream) == 2
    assert moved(before, after, "unitysvc_upstream_calls_total", outcome="ok", **upstream) == 2

    prompt = sum(u["prompt_tokens"] for u in usages)
    completion = sum(u["completion_tokens"] for u in usages)
    tokens = "unitysvc_tokens_total"
    assert moved(before, after, tokens, kind="input", **upstream) == prompt
    assert moved(before, after, tokens, kind="output", **upstream) == completion
    listed = platform.app.runtime.catalog.service_by_name("demo-small")
    price = listed.list_price
    expected = (Decimal(price["input"]) * prompt + Decimal(price["output"]) * completion) / MILLION
    cost = moved(before, after, "unitysvc_cost_total", currency="USD", **upstream)
    assert cost == pytest.approx(float(expected), rel=1e-9) and cost > 0


def test_memoize_misses_then_hits(platform: LocalPlatform, gateway: httpx.Client) -> None:
    before = scrape(platform)
    body = chat(f"cache me {uuid.uuid4().hex}")
    answers = [gateway.post("/m/demo-small/v1/chat/completions", json=body) for _ in range(3)]
    assert [a.headers["x-unitysvc-cache"] for a in answers] == ["miss", "hit", "hit"]
    after = wait_until_moved(
        platform, before, "unitysvc_cache_lookups_total", 2, result="hit", service="demo-small"
    )
    lookups = "unitysvc_cache_lookups_total"
    assert moved(before, after, lookups, result="miss", service="demo-small") == 1
    assert moved(before, after, lookups, result="hit", service="demo-small") == 2
    # A hit makes no upstream call: one metered call for three answers.
    calls = "unitysvc_upstream_calls_total"
    assert moved(before, after, calls, service="demo-small", outcome="ok") == 1


def test_rate_limit_refusals_are_counted(
    platform: LocalPlatform, gateway: httpx.Client, fake_id: str
) -> None:
    before = scrape(platform)
    statuses = [gateway.get(f"/p/{fake_id}/limited").status_code for _ in range(BURST + 1)]
    assert statuses == [200] * BURST + [429]
    after = wait_until_moved(platform, before, "unitysvc_rate_limited_total", 1)
    assert moved(before, after, "unitysvc_rate_limited_total") == 1
    refused = {"route": "p", "status_class": "4xx", "service": ""}
    assert moved(before, after, "unitysvc_requests_total", **refused) == 1


def test_upstream_errors_by_reason(
    platform: LocalPlatform, gateway: httpx.Client, fake_id: str
) -> None:
    before = scrape(platform)
    assert gateway.get(f"/p/{fake_id}/status/503").status_code == 503
    assert gateway.get(f"/p/{fake_id}/status/429").status_code == 429
    assert gateway.get("/gwtest/dead/anything").status_code == 502
    after = wait_until_moved(
        platform, before, "unitysvc_upstream_errors_total", 1, service="dead", reason="no_response"
    )
    errors = "unitysvc_upstream_errors_total"
    assert moved(before, after, errors, service="fake", reason="http_5xx") == 1
    assert moved(before, after, errors, service="fake", reason="http_429") == 1
    assert moved(before, after, errors, service="dead", reason="no_response") == 1
    assert (
        moved(before, after, "unitysvc_upstream_calls_total", service="fake", outcome="error") == 2
    )
    five = {"route": "p", "status_class": "5xx", "service": "fake"}
    assert moved(before, after, "unitysvc_requests_total", **five) == 1


def test_scheduled_runs_and_ticks(
    platform: LocalPlatform, gateway: httpx.Client, fake_id: str
) -> None:
    before = scrape(platform)
    registered = gateway.post(f"/d/p/{fake_id}/scheduled?_in=0s", json={"run": 1})
    assert registered.status_code == 202, registered.text
    after = wait_until_moved(platform, before, "unitysvc_scheduler_runs_total", 1, outcome="ok")
    assert moved(before, after, "unitysvc_scheduler_ticks_total") >= 1
    assert value(after, "unitysvc_scheduler_runs_total", outcome="error") >= 0


def test_control_plane_requests_are_counted_as_v1(
    platform: LocalPlatform, gateway: httpx.Client
) -> None:
    before = scrape(platform)
    key = gateway.headers["Authorization"].split()[1]
    with platform.http(key) as api:
        assert api.get("/groups").status_code == 200
        assert api.get("/no-such-thing").status_code == 404
    after = wait_until_moved(
        platform, before, "unitysvc_requests_total", 1, route="v1", status_class="4xx", service=""
    )
    v1 = {"route": "v1", "service": ""}
    assert moved(before, after, "unitysvc_requests_total", status_class="2xx", **v1) >= 1
    assert moved(before, after, "unitysvc_request_duration_seconds_count", **v1) >= 2


def test_labels_never_carry_paths_customers_or_keys(
    platform: LocalPlatform, gateway: httpx.Client, fake_id: str
) -> None:
    marker = f"m{uuid.uuid4().hex[:12]}"
    before = scrape(platform)
    assert gateway.get(f"/p/{fake_id}/{marker}?q={marker}").status_code == 200
    assert gateway.get(f"/{marker}/nowhere").status_code == 404
    assert gateway.get(f"/g/{marker}/x").status_code == 404
    wait_until_moved(
        platform, before, "unitysvc_requests_total", 1, route="g", status_class="4xx", service=""
    )
    text = httpx.get(
        f"{platform.gateway_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).text
    key = gateway.headers["Authorization"].split()[1]
    assert marker not in text and key not in text and "svcpass_" not in text
    routes = {
        dict(labels).get("route")
        for (name, labels) in scrape(platform)
        if name == "unitysvc_requests_total"
    }
    assert routes <= {"p", "g", "a", "e", "c", "b", "path", "v1"}, routes

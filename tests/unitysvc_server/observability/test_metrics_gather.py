"""Merging the workers' samples for ``/metrics`` (pure: the families as workers send them)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from unitysvc_server.observability.gather import merge, snapshot


def _worker(requests: int, seconds: list[float], created: float) -> list[dict[str, Any]]:
    registry = CollectorRegistry()
    counter = Counter("calls", "Calls.", ["route"], registry=registry)
    counter.labels("p").inc(requests)
    histogram = Histogram("latency_seconds", "Latency.", buckets=(0.1, 1), registry=registry)
    for value in seconds:
        histogram.observe(value)
    Gauge("memory_bytes", "Memory.", registry=registry).set(requests * 1000)
    families = snapshot(registry)
    for family in families:  # a fixed creation time, to see which one the merge keeps
        family["samples"] = [
            [name, labels, created if name.endswith("_created") else value]
            for name, labels, value in family["samples"]
        ]
    return families


def test_counters_and_histograms_add_up_gauges_stay_per_worker() -> None:
    merged = merge({0: _worker(3, [0.05], 20.0), 1: _worker(4, [0.5, 2.0], 10.0)})
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for m in merged for s in m.samples
    }
    assert samples[("calls_total", (("route", "p"),))] == 7
    assert samples[("calls_created", (("route", "p"),))] == 10.0  # the earliest
    assert samples[("latency_seconds_bucket", (("le", "0.1"),))] == 1
    assert samples[("latency_seconds_bucket", (("le", "1.0"),))] == 2
    assert samples[("latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert samples[("latency_seconds_count", ())] == 3
    assert samples[("latency_seconds_sum", ())] == 2.55
    assert samples[("memory_bytes", (("worker", "0"),))] == 3000
    assert samples[("memory_bytes", (("worker", "1"),))] == 4000
    assert [m.type for m in merged] == ["counter", "histogram", "gauge"]

"""``GET /metrics``: off (404) by default, the admin token unless opened, the Prometheus
text format; and ``usvc server start --metrics`` as users run it (a subprocess)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from unitysvc_server.config import Settings, SettingsError
from unitysvc_server.testing import LocalPlatform

ADMIN_TOKEN = "endpoint-admin-token-0123456789"
USVC = Path(sys.executable).with_name("usvc")


@pytest.fixture(scope="module")
def guarded() -> Iterator[LocalPlatform]:
    with LocalPlatform(demo=True, metrics=True, admin_token=ADMIN_TOKEN) as running:
        yield running


def families(text: str) -> dict[str, str]:
    """Metric family name -> type."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def test_metrics_are_off_by_default() -> None:
    with LocalPlatform(demo=True, admin_token=ADMIN_TOKEN) as platform:
        key = platform.create_customer("nobody")
        for headers in (
            {},
            {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            {"Authorization": f"Bearer {key}"},
        ):
            response = httpx.get(f"{platform.gateway_url}/metrics", headers=headers)
            assert response.status_code == 404
            assert "--metrics" in response.json()["detail"]


def test_metrics_need_the_admin_token(guarded: LocalPlatform) -> None:
    url = f"{guarded.gateway_url}/metrics"
    key = guarded.create_customer("carol")
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Bearer {key}"},
        {"Authorization": ADMIN_TOKEN},
    ):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert "admin token" in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "unitysvc_" not in response.text


def test_metrics_in_the_prometheus_text_format(guarded: LocalPlatform) -> None:
    response = httpx.get(
        f"{guarded.gateway_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = families(response.text)
    expected = {
        "unitysvc_requests": "counter",
        "unitysvc_request_duration_seconds": "histogram",
        "unitysvc_gateway_overhead_seconds": "histogram",
        "unitysvc_upstream_duration_seconds": "histogram",
        "unitysvc_upstream_calls": "counter",
        "unitysvc_upstream_errors": "counter",
        "unitysvc_tokens": "counter",
        "unitysvc_cost": "counter",
        "unitysvc_cache_lookups": "counter",
        "unitysvc_rate_limited": "counter",
        "unitysvc_scheduler_ticks": "counter",
        "unitysvc_scheduler_runs": "counter",
        "unitysvc_build_info": "gauge",
    }
    assert {name: found.get(name) for name in expected} == expected
    head = httpx.head(
        f"{guarded.gateway_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert head.status_code == 200 and head.content == b""


def test_metrics_answer_get_only(guarded: LocalPlatform) -> None:
    response = httpx.post(
        f"{guarded.gateway_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_public_metrics_need_no_token() -> None:
    with LocalPlatform(demo=True, metrics=True, metrics_public=True) as platform:
        response = httpx.get(f"{platform.gateway_url}/metrics")
        assert response.status_code == 200
        assert "unitysvc_requests" in families(response.text)


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"metrics": True}, ["admin_token", "metrics_public", "--metrics-public"]),
        ({"metrics_public": True}, ["metrics_public", "--metrics"]),
        ({"otel_endpoint": "collector:4318"}, ["otel_endpoint", "http://127.0.0.1:4318"]),
    ],
)
def test_unsafe_or_malformed_settings_are_refused(
    tmp_path: Path, options: dict[str, object], names: list[str]
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(data_dir=tmp_path, **options)  # type: ignore[arg-type]
    for name in names:
        assert name in str(caught.value)


def test_usvc_server_start_refuses_metrics_without_a_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(USVC), "server", "start", "--port", "0", "--data-dir", str(tmp_path), "--metrics"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    assert "--admin-token" in done.stderr and "--metrics-public" in done.stderr


def test_usvc_server_start_serves_metrics() -> None:
    # process=True: a `python -m unitysvc_server start --metrics ...` subprocess, the token
    # passed in UNITYSVC_ADMIN_TOKEN as an operator would.
    with LocalPlatform(demo=True, metrics=True, admin_token=ADMIN_TOKEN, process=True) as platform:
        key = platform.create_customer("dave")
        with httpx.Client(
            base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}
        ) as gateway:
            body = {"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]}
            assert gateway.post("/demo-small/v1/chat/completions", json=body).status_code == 200
        assert httpx.get(f"{platform.gateway_url}/metrics").status_code == 401

        def requests_seen() -> float:
            text = httpx.get(
                f"{platform.gateway_url}/metrics",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ).text
            return sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "unitysvc_requests_total"
                and sample.labels.get("service") == "demo-small"
            )

        # The door counts a request just after its last byte is sent: poll, bounded.
        deadline = time.monotonic() + 10
        while requests_seen() < 1:
            assert time.monotonic() < deadline, "the call was never counted"
            time.sleep(0.05)

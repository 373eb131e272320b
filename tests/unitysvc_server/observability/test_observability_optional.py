"""Without ``--metrics`` and ``--otel-endpoint`` nothing of either is imported; tracing
asked for without the OpenTelemetry SDK is one clear error naming the extra.

Both run in a child interpreter: this test process has long imported everything.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SERVE_WITHOUT_OBSERVABILITY = textwrap.dedent(
    """
    import sys
    import httpx
    from unitysvc_server.testing import LocalPlatform

    with LocalPlatform(demo=True) as platform:
        key = platform.create_customer("quiet")
        body = {"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(
            f"{platform.gateway_url}/demo-small/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200, answer.text
        assert httpx.get(f"{platform.gateway_url}/metrics").status_code == 404
    prefixes = (
        "prometheus_client",
        "opentelemetry.sdk",
        "opentelemetry.exporter",
        "unitysvc_server.observability.metrics",
        "unitysvc_server.observability.tracing",
    )
    print(sorted(name for name in sys.modules if name.startswith(prefixes)))
    """
)

TRACING_WITHOUT_SDK = textwrap.dedent(
    """
    import sys
    sys.modules["opentelemetry.sdk"] = None  # as if the 'otel' extra were not installed
    from unitysvc_server.config import Settings
    from unitysvc_server.observability import Observability, TracingUnavailable

    try:
        Observability(Settings(data_dir=sys.argv[1], otel_endpoint="http://127.0.0.1:4318"))
    except TracingUnavailable as exc:
        print(exc)
    """
)


def run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_a_platform_without_metrics_or_traces_imports_neither() -> None:
    assert run(SERVE_WITHOUT_OBSERVABILITY).splitlines()[-1] == "[]"


def test_tracing_without_the_sdk_names_the_extra(tmp_path: Path) -> None:
    message = run(TRACING_WITHOUT_SDK, str(tmp_path))
    assert "--otel-endpoint" in message
    assert "pip install 'unitysvc[otel]'" in message

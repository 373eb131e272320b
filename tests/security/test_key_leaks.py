"""Finding 7: the platform key never goes upstream, and nothing key-shaped is stored or logged.

"Any part of the request" means: the request target (path and query, judged after
percent-decoding), the headers, and the body bytes as sent. A key-shaped value
(``svcpass_…``) in the path or query is refused with 400 — no API takes a platform key
there, so it can only be a mistake. A header holding one is dropped. The body is
refused when it carries the very key that authenticated the request; other key-shaped
text in a body is content (a prompt may quote one) and is forwarded, but redacted — like
the values of the caller's secrets the dispatch used — from the stored request log and
from every line the server logs.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from security_helpers import CountingUpstream, cli_server

import unitysvc
from unitysvc_server.config import Settings
from unitysvc_server.demo.upstreams import DEMO_BYOK_KEY
from unitysvc_server.keys import create_key
from unitysvc_server.redaction import KEY_SHAPE, install_log_redaction
from unitysvc_server.testing import LocalPlatform, run_sync

FOREIGN_KEY = "svcpass_" + "Zx9" * 14  # shaped like a key, but nobody's


def _find_row(client: unitysvc.Client, needle: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = [
            r for r in client.request_logs.list(limit=200).items if needle in r.user_request_path
        ]
        if rows:
            return client.request_logs.get(rows[0].log_id)
        time.sleep(0.05)
    raise AssertionError(f"no request-log row for {needle}")


@pytest.mark.parametrize(
    "query",
    ["api_key={key}", "note={key}", "a=1&note=prefix%20{key}", "q=svcpass%5F{rest}", "x={key}#f"],
)
def test_a_platform_key_in_the_query_is_refused_before_the_upstream(
    platform: LocalPlatform,
    upstream: CountingUpstream,
    key: str,
    guarded_id: str,
    marker: str,
    query: str,
) -> None:
    rendered = query.format(key=key, rest=key.removeprefix("svcpass_"))
    with httpx.Client(base_url=platform.gateway_url) as http:
        response = http.post(
            f"/p/{guarded_id}/{marker}?{rendered}",
            json={},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error_type"] == "credential_in_url"
    assert key not in response.text
    assert upstream.targets(marker) == []


def test_a_platform_key_in_the_path_is_refused_before_the_upstream(
    platform: LocalPlatform, upstream: CountingUpstream, key: str, guarded_id: str, marker: str
) -> None:
    with httpx.Client(base_url=platform.gateway_url) as http:
        response = http.get(
            f"/p/{guarded_id}/{marker}/{key}", headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 400, response.text
    assert response.json()["error_type"] == "credential_in_url"
    assert upstream.targets(marker) == []


def test_the_authenticating_key_in_the_body_is_refused_before_the_upstream(
    platform: LocalPlatform, upstream: CountingUpstream, key: str, guarded_id: str, marker: str
) -> None:
    with httpx.Client(base_url=platform.gateway_url) as http:
        response = http.post(
            f"/p/{guarded_id}/{marker}",
            json={"messages": [{"role": "user", "content": f"my key is {key}"}]},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error_type"] == "credential_in_body"
    assert upstream.targets(marker) == []


def test_key_headers_are_dropped_and_the_channel_credential_replaces_the_callers(
    platform: LocalPlatform, upstream: CountingUpstream, key: str, guarded_id: str, marker: str
) -> None:
    with httpx.Client(base_url=platform.gateway_url) as http:
        response = http.post(
            f"/p/{guarded_id}/{marker}",
            json={},
            headers={"Authorization": f"Bearer {key}", "X-Api-Key": key, "Cookie": f"k={key}"},
        )
    assert response.status_code == 200, response.text
    (hit,) = [h for h in upstream.hits if marker in h["target"]]
    assert key not in json.dumps(hit)
    assert hit["headers"]["authorization"] == "Bearer sk-channel-credential-0001"


def test_key_shaped_text_and_used_secret_values_are_redacted_from_the_stored_log(
    platform: LocalPlatform, key: str, marker: str
) -> None:
    byok = str(platform.app.runtime.catalog.service_by_name("demo-byok").id)
    with platform.client(key) as client:
        client.secrets.set("DEMO_API_KEY", DEMO_BYOK_KEY)
        # The demo chat answers with the last user message: both values come back too.
        message = f"{marker} quoting {FOREIGN_KEY} and {DEMO_BYOK_KEY}"
        response = client.dispatch(
            f"l/p/{byok}/chat/completions?note={marker}",
            json={"model": "demo-byok", "messages": [{"role": "user", "content": message}]},
        )
        assert response.status_code == 200, response.text
        assert FOREIGN_KEY in response.text  # content is forwarded and answered...
        stored = _find_row(client, marker).model_dump_json()
    # ... but never stored in clear.
    assert FOREIGN_KEY not in stored and DEMO_BYOK_KEY not in stored
    assert KEY_SHAPE.search(stored) is None
    assert "svcpass_***redacted***" in stored and "***redacted***" in stored


def test_log_records_are_redacted_whatever_logger_writes_them() -> None:
    install_log_redaction()
    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    handler = Capture()
    logger = logging.getLogger(f"unitysvc_test.redaction.{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("parameters: %r", ("SELECT 1", {"path": f"/x?note={FOREIGN_KEY}"}))
        try:
            raise KeyError(FOREIGN_KEY)
        except KeyError:
            logger.exception("lookup failed")
    finally:
        logger.removeHandler(handler)
    assert len(seen) == 2
    assert all(FOREIGN_KEY not in line for line in seen), seen
    assert "svcpass_***redacted***" in seen[0]
    assert "KeyError" in seen[1]


def test_a_debug_level_server_log_never_shows_a_key_or_a_secret(tmp_path: Path) -> None:
    # --log-level debug on SQLite logs every statement with its parameters.
    with cli_server(tmp_path, "--demo", "--no-scheduler", "--log-level", "debug") as server:
        root = server.root
        key = run_sync(create_key(Settings(data_dir=tmp_path), "debug-logs"))
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=root, headers=auth, timeout=30) as http:
            secret = http.put("/v1/secrets/DEMO_API_KEY", json={"value": DEMO_BYOK_KEY})
            assert secret.status_code in (200, 201), secret.text
            echo = next(
                s["id"]
                for s in http.get("/v1/groups/all_services/services").json()["data"]
                if s["name"] == "echo"
            )
            refused = http.post(f"/l/p/{echo}/x?note={key}", json={})
            assert refused.status_code == 400
            logged = http.post(f"/l/p/{echo}/x", json={"text": f"quoting {FOREIGN_KEY}"})
            assert logged.status_code == 200, logged.text
            # The row is written before the server stops (the writer drains on shutdown).
    text = server.log.read_text(errors="replace")
    assert "DEBUG" in text  # the level took effect
    for value in (key, FOREIGN_KEY, DEMO_BYOK_KEY):
        assert value not in text, f"{value[:12]}… appears in the server log"

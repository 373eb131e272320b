"""Finding 4: a deeply nested JSON body is a 400 with a clear message, never a 500.

Python's JSON parser recurses once per nesting level; a 2 KB body nested 1,000 deep
used to raise ``RecursionError`` in routing-key extraction (a 500 and a logged traceback
on every call). Both doors — the gateway and ``/v1`` — bound the depth once, where
bodies are read, with one rule (``asgi_io.MAX_JSON_DEPTH``).
"""

from __future__ import annotations

import logging

import httpx
import pytest

from unitysvc_server.asgi_io import MAX_JSON_DEPTH
from unitysvc_server.testing import LocalPlatform

DEEP = b'{"model": ' + b"[" * 1000 + b"]" * 1000 + b"}"


@pytest.fixture
def alias(platform: LocalPlatform, key: str) -> str:
    with platform.http(key) as api:
        created = api.post("aliases/", json={"name": "deep", "target_path": "g/llm"})
    assert created.status_code == 201, created.text
    return "deep"


@pytest.mark.parametrize(
    "path",
    ["g/llm/chat/completions", "a/deep/chat/completions", "demo-small/v1/chat/completions"],
)
def test_deeply_nested_gateway_bodies_are_refused_with_400(
    platform: LocalPlatform, key: str, alias: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert len(DEEP) < 2100
    with caplog.at_level(logging.ERROR), httpx.Client(base_url=platform.gateway_url) as http:
        response = http.post(
            f"/{path}",
            content=DEEP,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_type"] == "json_too_deep"
    assert f"more than {MAX_JSON_DEPTH} levels" in body["detail"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_the_depth_limit_itself_is_accepted(platform: LocalPlatform, key: str) -> None:
    nested = b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)
    body = b'{"model": "demo-small", "messages": [], "x": ' + nested + b"}"
    with httpx.Client(base_url=platform.gateway_url) as http:
        response = http.post(
            "/g/llm/chat/completions",
            content=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
    assert response.status_code == 200, response.text


def test_deeply_nested_api_bodies_name_the_limit(platform: LocalPlatform, key: str) -> None:
    with platform.http(key) as api:
        response = api.post("resolve", content=DEEP, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert f"more than {MAX_JSON_DEPTH} levels" in response.json()["detail"]

"""Wire conventions every route shares: error shapes, limits, slashes, request ids."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def platform_options() -> dict[str, Any]:
    return {"demo": False, "max_body_bytes": MAX_BODY}


def test_healthz(platform: LocalPlatform) -> None:
    response = httpx.get(f"{platform.gateway_url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_oversized_body_with_content_length_is_413(api: httpx.Client) -> None:
    response = api.put("/secrets/BIG", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body exceeds {MAX_BODY} bytes"}
    assert api.get("/secrets/BIG").status_code == 404


def test_oversized_streamed_body_is_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"y" * 1024

    response = api.put(
        "/secrets/STREAMED", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "exceeds" in response.json()["detail"]


def test_body_at_the_limit_is_accepted(api: httpx.Client) -> None:
    body = b'{"value": "' + b"v" * 3000 + b'"}'
    body += b" " * (MAX_BODY - len(body))
    response = api.put(
        "/secrets/AT_LIMIT", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("method", "path"), [("PUT", "/secrets/MALFORMED"), ("POST", "/aliases/")])
def test_malformed_json_is_400(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(
        method, path, content=b'{"value": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.startswith("malformed JSON body")


def test_validation_error_is_fastapi_shaped(api: httpx.Client) -> None:
    response = api.put("/secrets/SHAPE", json={"value": 5})
    assert response.status_code == 422
    items = response.json()["detail"]
    assert isinstance(items, list) and items
    for item in items:
        assert set(item) == {"loc", "msg", "type"}
        assert isinstance(item["loc"], list) and isinstance(item["msg"], str)


def test_unknown_route_is_404_json(api: httpx.Client) -> None:
    response = api.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"detail": "no route for /v1/no/such/route"}


def test_wrong_method_is_405_json(api: httpx.Client) -> None:
    response = api.patch("/secrets/")
    assert response.status_code == 405
    assert "PATCH" in response.json()["detail"]


def test_every_response_has_a_request_id(api: httpx.Client, platform: LocalPlatform) -> None:
    responses = [
        api.get("/secrets/"),
        api.get("/nope"),
        httpx.get(f"{platform.api_url}/secrets/"),
        httpx.get(f"{platform.gateway_url}/healthz"),
        httpx.get(f"{platform.gateway_url}/some/gateway/path"),
    ]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(ids) and len(set(ids)) == len(ids)


def test_a_safe_inbound_request_id_is_kept(api: httpx.Client) -> None:
    assert (
        api.get("/secrets/", headers={"X-Request-Id": "trace-123"}).headers["x-request-id"]
        == "trace-123"
    )
    unsafe = api.get("/secrets/", headers={"X-Request-Id": "bad id\twith tab"})
    assert unsafe.headers["x-request-id"] != "bad id\twith tab"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def _routes(platform: LocalPlatform) -> list[tuple[str, str]]:
    spec = httpx.get(f"{platform.gateway_url}/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "put", "post", "patch", "delete")
    ]


def test_both_slash_forms_answer_directly_on_every_route(
    platform: LocalPlatform, api: httpx.Client
) -> None:
    routes = _routes(platform)
    assert ("PUT", "/v1/secrets/{name}") in routes
    failures = []
    for method, path in routes:
        concrete = _concrete(path)
        other = concrete[:-1] if concrete.endswith("/") else concrete + "/"
        for form in (concrete, other):
            response = api.request(method, form.removeprefix("/v1"), json={})
            routed = not (
                response.status_code == 404
                and str(response.json().get("detail", "")).startswith("no route")
            )
            if response.is_redirect or not routed or response.status_code == 405:
                failures.append(f"{method} {form} -> {response.status_code}")
    assert failures == []


def test_openapi_lists_exactly_one_slash_form(platform: LocalPlatform) -> None:
    paths = {path for _, path in _routes(platform)}
    assert "/v1/secrets/" in paths and "/v1/secrets" not in paths
    assert not {p for p in paths if p.endswith("/") and p[:-1] in paths}


@pytest.mark.parametrize(
    ("path", "params", "body", "loc"),
    [
        ("/secrets/NUL_BODY", None, {"value": "a\u0000b"}, ["body", "value"]),
        ("/secrets/NUL_KEY", None, {"value": "v", "x\u0000": 1}, ["body"]),
        ("/secrets/NUL%00PATH", None, {"value": "v"}, ["path"]),
        ("/secrets/NUL_QUERY", {"shared": "tr\u0000ue"}, {"value": "v"}, ["query", "shared"]),
    ],
)
def test_nul_characters_are_422_naming_the_field(
    api: httpx.Client, path: str, params: dict[str, str] | None, body: Any, loc: list[str]
) -> None:
    # PostgreSQL cannot store NUL; both databases refuse it the same way.
    response = api.put(path, params=params, json=body)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == loc and "NUL" in item["msg"]


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        # Free-form JSON fields that no model inspects, and typed ones alike.
        ("POST", "/resolve", b'{"path": "g/x\\ud800"}', ["body", "path"]),
        (
            "POST",
            "/recurrent-requests/",
            b'{"request_path": "p/x", "body_template": {"\\udc00": 1}}',
            ["body", "body_template"],
        ),
        (
            "POST",
            "/aliases/",
            b'{"name": "a", "target_path": "p/x", "routing_key": {"model": ["\\ud83d"]}}',
            ["body", "routing_key", "model", 0],
        ),
        ("PUT", "/secrets/SURROGATE", b'{"value": "\\udfff"}', ["body", "value"]),
    ],
)
def test_lone_surrogates_are_422_naming_the_field(
    api: httpx.Client, method: str, path: str, body: bytes, loc: list[Any]
) -> None:
    # The PostgreSQL driver cannot encode a lone surrogate; both databases refuse it.
    response = api.request(method, path, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == loc and item["type"] == "string_unicode"


def test_a_complete_surrogate_pair_is_text(api: httpx.Client) -> None:
    response = api.put("/secrets/EMOJI", content=b'{"value": "\\ud83d\\ude00"}', headers=JSON)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_standard_json_numbers_are_400(api: httpx.Client, token: bytes) -> None:
    body = b'{"request_path": "p/x", "body_template": {"x": ' + token + b"}}"
    response = api.post("/recurrent-requests/", content=body, headers=JSON)
    assert response.status_code == 400
    assert "NaN" in response.json()["detail"]
    assert api.get("/recurrent-requests/").json()["data"] == []


def test_out_of_range_number_is_422_naming_the_field(api: httpx.Client) -> None:
    body = b'{"request_path": "p/x", "body_template": {"n": 1e999}}'
    response = api.post("/recurrent-requests/", content=body, headers=JSON)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "body_template", "n"]

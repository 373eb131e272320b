"""Authentication: absent, malformed, unknown and revoked keys, over HTTP."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from unitysvc_server import keys
from unitysvc_server.testing import LocalPlatform, run_sync


@pytest.fixture(scope="module")
def platform_options() -> dict[str, Any]:
    return {"demo": False}


def get(platform: LocalPlatform, path: str, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    with platform.http() as http:
        return http.get(path, headers=headers)


def test_absent_header_is_401_with_the_contract_message(platform: LocalPlatform) -> None:
    response = get(platform, "/secrets/", None)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authorization header required"}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Basic dXNlcjpwYXNz", "svcpass_only_the_key", "Bearer a b", "Token svcpass_x"],
)
def test_malformed_header_is_401(platform: LocalPlatform, authorization: str) -> None:
    response = get(platform, "/secrets/", authorization)
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


@pytest.mark.parametrize("token", ["svcpass_" + "x" * 43, "not-a-svcpass-key", "svcpass_"])
def test_unknown_key_is_401(platform: LocalPlatform, token: str) -> None:
    response = get(platform, "/secrets/", f"Bearer {token}")
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked API key"
    assert token not in response.text or token == "svcpass_"


def test_scheme_is_case_insensitive(platform: LocalPlatform, customer_key: str) -> None:
    assert get(platform, "/secrets/", f"bearer {customer_key}").status_code == 200


def test_revoked_key_is_401_immediately(platform: LocalPlatform) -> None:
    key = platform.create_customer("to-be-revoked")
    spare = platform.create_customer("to-be-revoked")  # a second key, same customer
    assert get(platform, "/secrets/", f"Bearer {key}").status_code == 200
    assert run_sync(keys.revoke(platform.settings, key=key)) == 1
    assert get(platform, "/secrets/", f"Bearer {key}").status_code == 401
    assert get(platform, "/secrets/", f"Bearer {spare}").status_code == 200


def test_keys_of_one_customer_share_its_data(platform: LocalPlatform) -> None:
    first = platform.create_customer("two-keys")
    second = platform.create_customer("two-keys")
    assert first != second
    with platform.http(first) as http:
        put = http.put("/secrets/SHARED_BY_KEYS", json={"value": "v"})
    assert put.status_code == 201
    assert get(platform, "/secrets/SHARED_BY_KEYS", f"Bearer {second}").status_code == 200


CONTRACT = (
    Path(__file__).parents[3] / "src" / "unitysvc_server" / "contract" / "customer-openapi.json"
)
#: Catalog reads: CONTRACT.md §1.3 plus the "probably anonymous" ones (§5.18).
ANONYMOUS = {
    ("GET", "/groups"),
    ("GET", "/groups/{name}"),
    ("GET", "/groups/{name}/services"),
    ("GET", "/services/{service_id}"),
    ("GET", "/services/{service_id}/interfaces"),
    ("GET", "/services/{service_id}/documents"),
    ("GET", "/services/{service_id}/documents/{document_id}"),
    ("GET", "/services/{service_id}/usage"),
}


def _contract_operations() -> list[tuple[str, str]]:
    spec = json.loads(CONTRACT.read_text())
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "put", "post", "patch", "delete")
    ]


def _call(platform: LocalPlatform, method: str, path: str, headers: dict[str, str]) -> int:
    # Every path parameter gets a well-formed value, so only authentication decides.
    concrete = re.sub(r"\{[^}]*name\}", "all_services", path)
    concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), concrete)
    body = None if method in ("GET", "DELETE") else {}
    with platform.http() as http:
        return http.request(method, concrete, json=body, headers=headers).status_code


@pytest.mark.parametrize(("method", "path"), _contract_operations())
def test_only_catalog_reads_are_anonymous(platform: LocalPlatform, method: str, path: str) -> None:
    anonymous = _call(platform, method, path, {})
    if (method, path) in ANONYMOUS:
        assert anonymous != 401
    else:
        assert anonymous == 401
    # A key that is sent must be valid, on anonymous-capable routes too.
    bogus = {"Authorization": "Bearer svcpass_" + "0" * 43}
    assert _call(platform, method, path, bogus) == 401

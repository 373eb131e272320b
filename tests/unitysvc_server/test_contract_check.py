"""The suite's own contract check (``conftest.check_against_contract``) can fail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

SECRET = {
    "name": "OPENAI_API_KEY",
    "description": None,
    "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "owner_type": "customer",
    "role_id": None,
    "owner_id": "3fa85f64-5717-4562-b3fc-2c963f66afa7",
    "sensitive": True,
    "value": None,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": None,
    "last_used_at": None,
}


def _response(method: str, path: str, status: int, body: Any) -> httpx.Response:
    request = httpx.Request(method, f"http://127.0.0.1:1{path}")
    return httpx.Response(status, json=body, request=request)


def test_a_body_of_the_documented_shape_passes(
    contract_check: Callable[[httpx.Response], None],
) -> None:
    contract_check(_response("GET", "/v1/secrets/", 200, {"data": [SECRET], "count": 1}))
    contract_check(_response("GET", "/v1/secrets/OPENAI_API_KEY", 200, SECRET))


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("/v1/secrets/", {"data": [SECRET]}, "'count' is a required property"),
        ("/v1/secrets/", {"data": [{**SECRET, "sensitive": "yes"}], "count": 1}, "'yes'"),
        ("/v1/secrets/OPENAI_API_KEY", {**SECRET, "owner_type": "nobody"}, "'nobody'"),
    ],
)
def test_a_body_that_breaks_the_contract_fails(
    contract_check: Callable[[httpx.Response], None], path: str, body: Any, named: str
) -> None:
    # Twice: the second check uses the validator the first one built.
    for _ in range(2):
        with pytest.raises(AssertionError, match="breaks the contract") as failed:
            contract_check(_response("GET", path, 200, body))
        assert named in str(failed.value)


def test_an_error_must_be_a_detail_string(
    contract_check: Callable[[httpx.Response], None],
) -> None:
    contract_check(_response("GET", "/v1/secrets/X", 404, {"detail": "secret 'X' not found"}))
    with pytest.raises(AssertionError, match="an error without detail"):
        contract_check(_response("GET", "/v1/secrets/X", 404, {"error": "not found"}))
    with pytest.raises(AssertionError, match="'not found'"):
        contract_check(_response("GET", "/v1/secrets/X", 404, {"detail": ["not found"]}))

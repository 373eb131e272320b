"""Shared fixtures of the server tests: one real platform per test module.

* ``platform`` -- a :class:`LocalPlatform` (demo catalog on) for the module,
  reached over real sockets on 127.0.0.1. A module needing other options
  overrides the ``platform_options`` fixture::

      @pytest.fixture(scope="module")
      def platform_options() -> dict[str, Any]:
          return {"demo": False, "max_body_bytes": 4096}

* ``customer_key`` / ``other_customer_key`` -- keys of two distinct customers
  of that platform (isolation tests use both).
* ``api`` / ``other_api`` -- raw ``httpx`` clients on ``platform.api_url``
  authenticated as those customers. Every response they (and
  ``anonymous_api``) receive is checked against the wire contract: a 2xx
  JSON body must validate against the contract's response schema for that
  operation and status (required fields, enum values, types), a 422 must be
  FastAPI-shaped and any other error ``{"detail": "<text>"}``.

With ``UNITYSVC_TEST_DATABASE_URL`` set (PostgreSQL), every platform gets its
own fresh database on that server, so modules never see each other's rows. The
PostgreSQL and Redis servers of the run (``postgres_server_url``,
``redis_server_url``) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from unitysvc_server.testing import LocalPlatform

CONTRACT = Path(__file__).parents[2] / "src/unitysvc_server/contract/customer-openapi.json"


@cache
def _contract() -> tuple[dict[str, Any], list[tuple[str, re.Pattern[str], dict[str, Any]]]]:
    spec: dict[str, Any] = json.loads(CONTRACT.read_text())
    operations = []
    # Literal paths before templated ones (``/request-logs/start`` before ``{log_id}``).
    for path, methods in sorted(spec["paths"].items(), key=lambda item: item[0].count("{")):
        pattern = re.compile(
            "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path.rstrip("/"))) + "/?$"
        )
        for method, operation in methods.items():
            operations.append((method.upper(), pattern, operation))
    return spec, operations


@cache
def _schema_validator(operation: int, status: int) -> Draft202012Validator | None:
    spec, operations = _contract()
    documented = operations[operation][2].get("responses", {}).get(str(status))
    schema = (documented or {}).get("content", {}).get("application/json", {}).get("schema")
    if not schema:
        return None
    return Draft202012Validator({**schema, "components": spec["components"]})


def _validator(method: str, path: str, status: int) -> Draft202012Validator | None:
    """The validator of the documented JSON body of ``method path`` answering ``status``
    (built once per operation and status, not per response); ``None`` when there is none."""
    _, operations = _contract()
    for index, (m, pattern, _operation) in enumerate(operations):
        if m == method and pattern.match(path):
            return _schema_validator(index, status)
    return None


def check_against_contract(response: httpx.Response) -> None:
    """Fail when ``response`` (to a ``/v1`` request) breaks the wire contract."""
    path = response.request.url.path
    if not path.startswith("/v1/") or response.status_code in (204, 304):
        return
    response.read()
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and "detail" in body, f"an error without detail: {body}"
        detail = body["detail"]
        if response.status_code == 422:
            assert isinstance(detail, list) and detail, response.text
            assert all({"loc", "msg", "type"} <= set(item) for item in detail), response.text
        else:
            assert isinstance(detail, str), response.text
        return
    method = response.request.method
    validator = _validator(method, path[3:], response.status_code)
    if validator is None:
        return  # not a contract operation (e.g. the signed file endpoints), or no JSON body
    errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.absolute_path))
    assert not errors, (
        f"{method} {path} -> {response.status_code} breaks the contract: "
        + "; ".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5])
    )


@pytest.fixture
def contract_check() -> Callable[[httpx.Response], None]:
    """:func:`check_against_contract`, for tests that build their own responses."""
    return check_against_contract


def _checked(client: httpx.Client) -> httpx.Client:
    client.event_hooks["response"].append(check_against_contract)
    return client


@pytest.fixture(scope="module")
def platform_options() -> dict[str, Any]:
    """Keyword arguments of the module's :class:`LocalPlatform`."""
    return {"demo": True}


@pytest.fixture(scope="module")
def platform(platform_options: dict[str, Any]) -> Iterator[LocalPlatform]:
    """A running platform shared by the tests of one module."""
    with LocalPlatform(**platform_options) as running:
        yield running


@pytest.fixture(scope="module")
def customer_key(platform: LocalPlatform) -> str:
    """Key of the module's main customer."""
    return platform.create_customer(f"alice-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def other_customer_key(platform: LocalPlatform) -> str:
    """Key of a second, unrelated customer."""
    return platform.create_customer(f"bob-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def api(platform: LocalPlatform, customer_key: str) -> Iterator[httpx.Client]:
    """Raw HTTP client on the API base URL as the main customer."""
    with _checked(platform.http(customer_key)) as client:
        yield client


@pytest.fixture
def other_api(platform: LocalPlatform, other_customer_key: str) -> Iterator[httpx.Client]:
    """Raw HTTP client on the API base URL as the other customer."""
    with _checked(platform.http(other_customer_key)) as client:
        yield client


@pytest.fixture
def anonymous_api(platform: LocalPlatform) -> Iterator[httpx.Client]:
    """Raw HTTP client on the API base URL without credentials."""
    with _checked(platform.http()) as client:
        yield client

"""Error responses map to the documented exception classes with useful messages."""

from __future__ import annotations

import json

import pytest

from unitysvc import exceptions as exc


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, exc.ValidationError),
        (401, exc.AuthenticationError),
        (403, exc.PermissionDeniedError),
        (404, exc.NotFoundError),
        (409, exc.ConflictError),
        (422, exc.ValidationError),
        (429, exc.RateLimitError),
        (500, exc.ServerError),
        (503, exc.ServerError),
        (418, exc.APIError),
    ],
)
def test_status_mapping(status: int, cls: type[exc.APIError]) -> None:
    error = exc.error_for_status(status, b'{"detail": "nope"}', request_id="req-1")
    assert type(error) is cls
    assert error.status_code == status
    assert error.detail == {"detail": "nope"}
    assert error.response_body == b'{"detail": "nope"}'
    assert error.request_id == "req-1"
    assert f"status {status}: nope" in str(error)
    assert "req-1" in str(error)


def test_validation_detail_names_the_fields() -> None:
    body = json.dumps(
        {"detail": [{"loc": ["body", "name"], "msg": "String should match", "type": "x"}]}
    ).encode()
    error = exc.error_for_status(422, body)
    assert "name: String should match" in str(error)
    assert isinstance(error.detail, dict)
    assert error.summary == "name: String should match"


def test_summary_is_one_line_whatever_the_payload() -> None:
    assert exc.error_for_status(404, b'{"detail": "no such secret"}').summary == "no such secret"
    assert exc.error_for_status(502, b"bad gateway").summary == "bad gateway"
    assert exc.error_for_status(500, b"").summary == ""
    nested = exc.error_for_status(409, b'{"detail": {"code": "taken", "name": "X"}}')
    assert json.loads(nested.summary) == {"code": "taken", "name": "X"}


def test_non_json_body_kept_as_text() -> None:
    error = exc.error_for_status(502, b"<html>bad gateway</html>")
    assert error.detail == "<html>bad gateway</html>"


def test_rate_limit_carries_retry_after() -> None:
    error = exc.error_for_status(429, b"", retry_after=12.0)
    assert isinstance(error, exc.RateLimitError)
    assert error.retry_after == 12.0


def test_everything_is_an_sdk_error() -> None:
    assert issubclass(exc.APITimeoutError, exc.APIConnectionError)
    assert issubclass(exc.APIConnectionError, exc.UnitysvcSDKError)
    assert issubclass(exc.APIError, exc.UnitysvcSDKError)
    assert exc.PermissionError is exc.PermissionDeniedError

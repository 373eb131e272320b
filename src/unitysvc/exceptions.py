"""Exception hierarchy for the customer SDK.

Every error the SDK raises is a :class:`UnitysvcSDKError`, including network
failures, so one ``except UnitysvcSDKError`` covers them all::

    UnitysvcSDKError
    ├── APIConnectionError          the server could not be reached or the connection broke
    │   └── APITimeoutError         no answer within the timeout
    ├── ExperimentalDisabledError   an experimental feature used without UNITYSVC_EXPERIMENTAL
    └── APIError                    the server answered with an error status
        ├── APIResponseValidationError  a success status with a body of the wrong shape
        ├── ValidationError         400 / 422, or an argument refused before sending
        ├── AuthenticationError     401
        ├── PermissionDeniedError   403 (also importable as ``PermissionError``)
        ├── NotFoundError           404
        ├── ConflictError           409
        ├── RateLimitError          429
        └── ServerError             5xx

Typical use::

    try:
        client.secrets.get("OPENAI_API_KEY")
    except NotFoundError:
        ...
    except UnitysvcSDKError:
        ...
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "ConflictError",
    "ExperimentalDisabledError",
    "NotFoundError",
    "PermissionDeniedError",
    "PermissionError",
    "RateLimitError",
    "ServerError",
    "UnitysvcSDKError",
    "ValidationError",
    "error_for_status",
    "invalid_argument",
]


class UnitysvcSDKError(Exception):
    """Base class for all errors raised by ``unitysvc``."""


class ExperimentalDisabledError(UnitysvcSDKError):
    """An experimental feature was used while ``UNITYSVC_EXPERIMENTAL`` is off."""


class APIConnectionError(UnitysvcSDKError):
    """The request did not get an HTTP answer: refused, reset, DNS or TLS failure.

    Attributes:
        status_code: Always ``None``: no status was received.
        request_id: Always ``None``.
        url: The URL tried (without its query), when known.
        attempts: How many times it was tried (retries included).
        reason: What went wrong, e.g. ``connection refused``.
    """

    status_code: int | None = None
    request_id: str | None = None
    url: str | None = None
    attempts: int = 1
    reason: str = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APITimeoutError(APIConnectionError):
    """The server did not answer within the configured timeout."""


class APIError(UnitysvcSDKError):
    """The server returned a non-success status code.

    Attributes:
        status_code: HTTP status code.
        detail: Parsed error payload (usually a dict ``{"detail": ...}``), or the raw
            text when the body is not JSON.
        response_body: Raw response bytes, useful for debugging.
        request_id: The ``x-request-id`` the server assigned, to quote in bug reports.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        detail: Any = None,
        response_body: bytes | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.detail = detail
        self.response_body = response_body
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"

    @property
    def summary(self) -> str:
        """The server's error detail as one readable line (``""`` if it sent none).

        Validation errors read ``field: message; field: message``, e.g.
        ``name: String should match pattern '^[A-Z_][A-Z0-9_]*$'``.
        """
        return _summarise_detail(self.detail)


class AuthenticationError(APIError):
    """401 Unauthorized. The API key is missing, invalid, or revoked."""


class PermissionDeniedError(APIError):
    """403 Forbidden. The authenticated customer cannot perform this action."""


#: The seed reference's name for :class:`PermissionDeniedError`. It shadows the
#: builtin only inside this module's namespace; prefer the unambiguous name.
PermissionError = PermissionDeniedError


class NotFoundError(APIError):
    """404 Not Found. The resource does not exist for this customer."""


class APIResponseValidationError(APIError):
    """The server answered a success status, but its body is not what the API returns.

    Usually the URL points at something that is not a unitysvc server (a proxy's
    login page, another API), or the server and SDK versions disagree.

    Attributes:
        status_code: The (success) status received.
        request_id: The server's ``x-request-id``, if any.
        response_body: The raw body; the message quotes its first 200 characters.
    """


class ValidationError(APIError, ValueError):
    """400/422. The request failed validation, on the server or before sending.

    ``detail`` usually holds a list of per-field errors (``loc``, ``msg``, ``type``).

    Arguments the SDK can check itself (a secret's name, a cache TTL, a page size)
    are refused before any request, with the same exception: then ``field`` and
    ``rule`` name the argument and the rule it breaks, ``status_code`` is 422 (what
    the server would have answered) and ``request_id`` is None. It is also a
    ``ValueError``, so code catching that keeps working.

    Attributes:
        field: The argument refused locally (None for server answers).
        rule: The rule it breaks, e.g. ``^[A-Z_][A-Z0-9_]*$, 1-100 characters``.
    """

    field: str | None = None
    rule: str | None = None


class ConflictError(APIError):
    """409 Conflict. The request conflicts with server state (e.g. a duplicate name)."""


class RateLimitError(APIError):
    """429 Too Many Requests.

    Attributes:
        retry_after: Seconds the server asked to wait, when it said.
    """

    retry_after: float | None = None


class ServerError(APIError):
    """5xx. The server failed. Idempotent requests are retried automatically."""


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}

_ADVICE: dict[type[APIError], str] = {
    AuthenticationError: "check the API key (UNITYSVC_API_KEY or api_key=); keys start with "
    "'svcpass_'",
    PermissionDeniedError: "this key's customer may not do this",
    NotFoundError: "check the id or name; objects of other customers are not visible",
    ValidationError: "fix the fields named in .detail",
    ConflictError: "the name is taken or the state changed; fetch the current state and retry",
    RateLimitError: "slow down; the SDK already retried with backoff",
    ServerError: "the platform failed; idempotent calls were retried, try again later",
}


#: ``invalid_argument``'s value when the message should not repeat it.
OMIT: Final = object()


def invalid_argument(field: str, value: object, rule: str, fix: str = "") -> ValidationError:
    """The error for an argument that breaks a rule, raised before any request.

    Args:
        field: The argument's name (``name``, ``ttl``, ``page_size``).
        value: What was given (shown with ``repr``, cut at 60 characters), or
            :data:`OMIT` to leave it out of the message.
        rule: The rule it breaks.
        fix: What to pass instead, e.g. ``e.g. 'OPENAI_API_KEY'``.

    Returns:
        A :class:`ValidationError` whose message reads
        ``invalid name='bad-name': a secret name is … (e.g. 'BAD_NAME')``.
    """
    shown = "" if value is OMIT else "=" + repr(value)
    if len(shown) > 61:
        shown = shown[:58] + "..."
    message = f"invalid {field}{shown}: {rule}"
    if fix:
        message += f" ({fix})"
    error = ValidationError(
        message,
        status_code=422,
        detail={"detail": [{"loc": [field], "msg": rule, "type": "client_validation"}]},
    )
    error.field = field
    error.rule = rule
    return error


def _summarise_detail(detail: Any) -> str:
    """Render an error payload as one readable line."""
    if isinstance(detail, Mapping) and "detail" in detail:
        detail = detail["detail"]
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping) and "msg" in item:
                loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if detail is None or detail == "":
        return ""
    if isinstance(detail, str | int | float):
        return str(detail)
    return json.dumps(detail, default=str)[:500]


def error_for_status(
    status_code: int,
    body: bytes,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Build the exception for an error response (pure: no I/O).

    Args:
        status_code: The HTTP status.
        body: The raw response body.
        request_id: The server's ``x-request-id``, if any.
        retry_after: Parsed ``Retry-After`` seconds, for 429.

    Returns:
        The :class:`APIError` subclass matching the status, with a message that says
        what went wrong and what to do.
    """
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else APIError
    try:
        parsed: Any = json.loads(body) if body else None
    except ValueError:
        parsed = body.decode("utf-8", "replace")
    # ``detail`` keeps the whole parsed payload, as the official SDK does, so code
    # written against it (``err.detail["detail"]``) keeps working.
    detail = parsed
    message = f"API request failed with status {status_code}"
    summary = _summarise_detail(detail)
    if summary:
        message += f": {summary}"
    advice = _ADVICE.get(cls)
    if advice:
        message += f" ({advice})"
    if request_id:
        message += f" [request id {request_id}]"
    error = cls(
        message,
        status_code=status_code,
        detail=detail,
        response_body=body,
        request_id=request_id,
    )
    if isinstance(error, RateLimitError):
        error.retry_after = retry_after
    return error

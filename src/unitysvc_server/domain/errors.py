"""Business errors raised by domain code, mapped to HTTP by ``api/errors.py``.

Domain functions raise these instead of FastAPI's ``HTTPException`` so they stay
usable outside a request (workers, the CLI, the gateway).
"""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """Base of business errors; ``status_code`` is the HTTP status it maps to."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(DomainError):
    """The request is well-formed but cannot be processed as asked (400)."""

    status_code = 400


class Unauthorized(DomainError):
    """Missing, malformed, unknown or revoked credentials (401)."""

    status_code = 401


class Forbidden(DomainError):
    """The caller is known but may not do this (403)."""

    status_code = 403


class NotFound(DomainError):
    """The object does not exist *for this caller* (404).

    Args:
        detail: What was not found, e.g. ``"alias 1f2e... not found"``.
    """

    status_code = 404


class Conflict(DomainError):
    """A uniqueness or state conflict, e.g. a duplicate name (409)."""

    status_code = 409


class Unprocessable(DomainError):
    """A field-level validation failure, answered FastAPI-shaped (422).

    Args:
        loc: Location of the offending value, e.g. ``("body", "name")`` or
            ``("path", "name")``; a bare string is taken as one segment.
        msg: What is wrong and how to fix it.
        type: Machine-readable error type.
    """

    status_code = 422

    def __init__(self, loc: Sequence[str | int] | str, msg: str, type: str = "value_error") -> None:
        super().__init__(msg)
        self.loc: tuple[str | int, ...] = (loc,) if isinstance(loc, str) else tuple(loc)
        self.msg = msg
        self.type = type

    def errors(self) -> list[dict[str, object]]:
        """Return the FastAPI-shaped ``detail`` list."""
        return [{"loc": list(self.loc), "msg": self.msg, "type": self.type}]

"""Exception handlers giving every control-plane error the contract's body shape.

* business errors and HTTP errors: ``{"detail": "<text>"}``;
* validation errors: 422 ``{"detail": [{"loc", "msg", "type"}]}`` (what the
  official SDK's generated parser requires), never echoing the rejected input
  (it may be a secret value);
* malformed JSON: 400 with the parser's position;
* a value the database cannot store (SQLSTATE class 22): 422 at ``["body"]``;
* anything unexpected: 500 ``{"detail": "internal error", "request_id"}``,
  logged server-side (see :mod:`unitysvc_server.api.middleware`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from unitysvc_server.domain.errors import DomainError, Unauthorized, Unprocessable

logger = logging.getLogger(__name__)

REQUEST_ID_STATE = "request_id"


def request_id_of(request: Request) -> str:
    """Return the id the request-id middleware assigned to ``request``."""
    return str(request.scope.get("state", {}).get(REQUEST_ID_STATE, ""))


def error_response(
    status_code: int, detail: Any, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Return ``{"detail": detail}`` with ``status_code``."""
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def validation_items(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Reduce pydantic/FastAPI errors to ``{loc, msg, type}`` (no input echo)."""
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err["type"])}
        for err in errors
    ]


def _malformed_json_detail(errors: Iterable[Mapping[str, Any]]) -> str | None:
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "invalid JSON")
            loc = err.get("loc", ())
            where = f" at position {loc[1]}" if len(loc) > 1 else ""
            return f"malformed JSON body{where}: {reason}; send a valid JSON document"
    return None


async def _on_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    malformed = _malformed_json_detail(errors)
    if malformed is not None:
        return error_response(400, malformed)
    return error_response(422, validation_items(errors))


async def _on_domain(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, Unprocessable):
        return error_response(422, exc.errors())
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return error_response(exc.status_code, exc.detail, headers)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail: Any = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route for {request.url.path}"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"method {request.method} not allowed on {request.url.path}"
    if exc.status_code == 422 and not isinstance(detail, list):
        # The SDK cannot parse a string 422; keep the shape the contract promises.
        detail = [{"loc": [], "msg": str(detail), "type": "value_error"}]
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_response(exc.status_code, detail, exc.headers)


async def _on_integrity(request: Request, exc: Exception) -> Response:
    # Domain code maps the conflicts it expects; this is the safety net for a
    # unique or foreign-key violation it did not anticipate (never a 500).
    logger.warning(
        "integrity error on %s %s (request %s): %s",
        request.method,
        request.url.path,
        request_id_of(request),
        type(getattr(exc, "orig", exc)).__name__,
    )
    return error_response(409, "the request conflicts with existing data")


#: SQLSTATE class 22, "data exception": a value the database cannot store
#: (too long for its column, out of range, not encodable).
_DATA_EXCEPTION = "22"
DATA_TOO_LARGE = (
    "a value does not fit what the platform can store (too long or out of range); "
    "shorten or correct it"
)


async def _on_database(request: Request, exc: Exception) -> Response:
    # The safety net behind the API's own validation: a value that reached the
    # database and does not fit its column is the caller's input, so a 422 --
    # never a 500. Domain code names the field where it knows the limit.
    orig = getattr(exc, "orig", None)
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    if state.startswith(_DATA_EXCEPTION):
        logger.warning(
            "data exception %s on %s %s (request %s)",
            state,
            request.method,
            request.url.path,
            request_id_of(request),
        )
        return error_response(
            422, [{"loc": ["body"], "msg": DATA_TOO_LARGE, "type": "value_error"}]
        )
    # Type and traceback only: messages of driver errors can carry data.
    logger.error(
        "unhandled %s on %s %s (request %s)",
        type(exc).__name__,
        request.method,
        request.url.path,
        request_id_of(request),
        exc_info=exc,
    )
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, _exc: Exception) -> Response:
    # Logged once by the outer middleware, which sees the re-raised exception.
    return JSONResponse(
        {"detail": "internal error", "request_id": request_id_of(request)}, status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the platform's exception handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(DomainError, _on_domain)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(DBAPIError, _on_database)
    app.add_exception_handler(ResponseValidationError, _on_unexpected)
    app.add_exception_handler(Exception, _on_unexpected)

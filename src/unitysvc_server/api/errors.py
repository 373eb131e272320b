"""Exception handlers giving every control-plane error the contract's body shape.

* business errors and HTTP errors: ``{"detail": "<text>"}``;
* validation errors: 422 ``{"detail": [{"loc", "msg", "type"}]}`` (what the
  official SDK's generated parser requires), never echoing the rejected input
  (it may be a secret value);
* malformed JSON: 400 with the parser's position;
* a method the path is not served with: 405 whose ``Allow`` lists every method some
  route serves at the path — also when the path reads as another method's route only
  with invalid path parameters (``GET /request-logs/start``), where FastAPI would say 422;
* a value the database cannot store (SQLSTATE class 22): 422 at ``["body"]``;
* anything unexpected: 500 ``{"detail": "internal error", "request_id"}``,
  logged server-side (see :mod:`unitysvc_server.api.middleware`).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
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


#: ``app.state`` attribute holding :func:`method_table`'s result.
METHOD_TABLE_STATE = "method_table"
_UUID_SEGMENT = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


#: Route path patterns (UUID path parameters match only UUIDs) and their methods.
MethodTable = list[tuple[re.Pattern[str], set[str]]]


def method_table(routers: Iterable[APIRouter], prefix: str) -> MethodTable:
    """Each route's path as a pattern and its methods: what :func:`served_methods`
    consults."""
    table: MethodTable = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            types = {p.name: p.field_info.annotation for p in route.dependant.path_params}
            pattern = re.escape(prefix + route.path)
            for name, annotation in types.items():
                segment = _UUID_SEGMENT if annotation is uuid.UUID else "[^/]+"
                pattern = pattern.replace(re.escape("{" + name + "}"), segment)
            table.append((re.compile(f"^{pattern}$"), set(route.methods or ())))
    return table


def served_methods(request: Request) -> set[str]:
    """Every method some route serves at this request's path.

    Several routes can share a path (``GET /aliases/`` and ``POST /aliases/`` are two),
    and a literal path can look like a template (``/request-logs/start`` like
    ``/request-logs/{log_id}``, whose ``log_id`` is a UUID): ``Allow`` must name every
    route's methods whose typed path matches.
    """
    table = getattr(request.app.state, METHOD_TABLE_STATE, [])
    path = request.scope["path"]
    methods: set[str] = set()
    for pattern, route_methods in table:
        if pattern.match(path):
            methods.update(route_methods)
    return methods


def method_not_allowed(request: Request, allowed: list[str]) -> JSONResponse:
    """405 naming the method and path, with ``Allow`` listing what the path serves."""
    return error_response(
        405,
        f"method {request.method} not allowed on {request.url.path}; allowed: {', '.join(allowed)}",
        {"Allow": ", ".join(allowed)},
    )


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    malformed = _malformed_json_detail(errors)
    if malformed is not None:
        return error_response(400, malformed)
    served = served_methods(request)
    if served and request.method not in served:
        # The path reads as this method's route only with invalid path parameters
        # (GET /request-logs/start as /request-logs/{log_id}, whose id is a UUID) while
        # other routes serve it: the method is what is wrong, so 405, not 422.
        return method_not_allowed(request, sorted(served))
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
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        # Starlette's words for a body that is not UTF-8 text.
        detail = "malformed JSON body: it is not UTF-8 text; send a valid JSON document"
    elif exc.status_code == 404 and detail == "Not Found":
        detail = f"no route for {request.url.path}"
    elif exc.status_code == 405:
        # Starlette names only the first route's methods; Allow must list them all.
        served = served_methods(request) - {request.method}
        if served:
            return method_not_allowed(request, sorted(served))
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

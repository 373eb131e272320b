"""The I/O-free heart of the SDK: flows, effects, request building and retries.

Every SDK call is written once, as a *flow*: a generator that yields effects
(:class:`Send` a request, :class:`Sleep`, :class:`Close` a response, :class:`Emit` items
of a page) and receives their outcomes. The sync and async drivers in
:mod:`unitysvc._drivers` perform the effects with ``httpx.Client`` or
``httpx.AsyncClient``; nothing else differs between ``Client`` and ``AsyncClient``.
This is the pattern of httpx's ``Auth.auth_flow`` applied to the whole SDK, and it is
why there is no hand-kept ``a*.py`` twin of any module.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

import httpx

from unitysvc._constants import API_KEY_PREFIX, ENV_API_KEY, ENV_API_URL
from unitysvc._retry import RETRYABLE_STATUSES, RetryPolicy, is_idempotent, parse_retry_after
from unitysvc.exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    error_for_status,
)

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound="BaseModel")

logger = logging.getLogger("unitysvc")


@dataclass(frozen=True, slots=True)
class Send:
    """Effect: send ``request``; the outcome is an ``httpx.Response`` or an httpx error."""

    request: httpx.Request
    stream: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    """Effect: pause for ``seconds`` (between retries)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Close:
    """Effect: close a streamed response that will not be consumed."""

    response: httpx.Response


@dataclass(frozen=True, slots=True)
class Emit(Generic[T]):
    """Effect of a paging flow: hand ``items`` to the iterating caller."""

    items: list[T]


Effect: TypeAlias = Send | Sleep | Close
#: A flow yields effects and finally returns a ``T``.
Flow: TypeAlias = Generator[Effect, Any, T]
#: A paging flow also yields :class:`Emit` batches and returns nothing.
PageFlow: TypeAlias = Generator[Effect | Emit[T], Any, None]


class _Unset:
    """Type of :data:`UNSET`."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: Marks "argument not passed", where ``None`` is a meaningful value.
UNSET: Any = _Unset()


def redact_key(key: str | None) -> str:
    """Show an API key by its prefix only, for logs and reprs."""
    if not key:
        return "<anonymous>"
    return key[:12] + "…" if len(key) > 12 else f"{API_KEY_PREFIX}…"


def _short(content: bytes | None) -> str:
    """A body cut at 50 characters, for debug logs."""
    if not content:
        return ""
    text = content[:50].decode("utf-8", "replace")
    return text + ("…" if len(content) > 50 else "")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Resolved configuration shared by ``Client`` and ``AsyncClient``.

    Attributes:
        api_key: The customer key, or None for an anonymous client.
        base_url: Control-plane URL (ends with ``/v1`` in standard deployments).
        api_base_url: HTTP gateway root.
        s3_base_url: S3 gateway root, if configured.
        smtp_base_url: SMTP gateway root, if configured.
        max_retries: Retries per call after the first attempt.
        timeout: Default timeout applied to each request (UNSET: the httpx client's).
    """

    api_key: str | None
    base_url: str
    api_base_url: str
    s3_base_url: str | None
    smtp_base_url: str | None
    max_retries: int
    timeout: Any = UNSET


class Core:
    """Builds requests and runs the retrying call flow; shared by both clients."""

    def __init__(self, config: ClientConfig, http: httpx.Client | httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        self.policy = RetryPolicy(config.max_retries)
        self._base_key: httpx.URL | None = None
        self._base_str = ""
        self._timeout_key: Any = UNSET
        self._timeout_value: dict[str, float | None] = {}

    # -- request building -------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = UNSET,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = UNSET,
        idempotent_post: bool = False,
    ) -> httpx.Request:
        """Build one request (no I/O).

        Args:
            method: HTTP method.
            url: A path relative to the control-plane URL, or an absolute URL.
            params: Query parameters; ``None`` values are dropped, booleans sent as
                ``true``/``false``.
            json: JSON body (not sent when UNSET).
            content: Raw body.
            headers: Extra headers; an explicit ``Authorization`` wins over the key.
            timeout: Per-request timeout (UNSET: the client's).
            idempotent_post: Attach a fresh ``Idempotency-Key`` so retries of this
                creating POST cannot apply it twice.

        Returns:
            The ``httpx.Request``.
        """
        merged = dict(headers) if headers else {}
        key = self.config.api_key
        if key and not any(k.lower() == "authorization" for k in merged):
            merged["Authorization"] = f"Bearer {key}"
        if idempotent_post and not any(k.lower() == "idempotency-key" for k in merged):
            merged["Idempotency-Key"] = str(uuid.uuid4())
        clean_params = query_params(params) if params else None
        extra: dict[str, Any] = {}
        if json is not UNSET:
            extra["json"] = json
        elif content is not None:
            extra["content"] = content
        if timeout is UNSET:
            timeout = self.config.timeout
        http = self.http
        base = self._base_url(http)
        if base and url[:1] == "/" and url[1:2] != "/" and "?" not in url and "#" not in url:
            # Fast path for control-plane paths (every resource call): one URL string,
            # parsed once by httpx, instead of httpx merging base URL, path and query
            # params through three parses. The result is the same URL: the base URL
            # plus the path, and the query encoded by httpx's own QueryParams.
            if clean_params and not http.params:
                full = f"{base}{url}?{httpx.QueryParams(clean_params)}"
                clean_params = None
            else:
                full = base + url
            if timeout is not UNSET:
                extra["extensions"] = {"timeout": self._timeout_dict(timeout)}
            return http.build_request(method, full, params=clean_params, headers=merged, **extra)
        if timeout is not UNSET:
            extra["timeout"] = timeout
        return http.build_request(method, url, params=clean_params, headers=merged, **extra)

    def _base_url(self, http: httpx.Client | httpx.AsyncClient) -> str:
        """The httpx client's base URL without its trailing slash (cached per value).

        Empty when the fast path of :meth:`request` does not apply: no base URL, or
        one with a query or fragment (then httpx's own merge decides).
        """
        base = http.base_url
        if base is not self._base_key:
            self._base_key = base
            simple = base.is_absolute_url and not base.query and not base.fragment
            self._base_str = str(base).rstrip("/") if simple else ""
        return self._base_str

    def _timeout_dict(self, timeout: Any) -> dict[str, float | None]:
        """``httpx.Timeout(timeout).as_dict()``, cached: it is the same for every call."""
        if timeout is not self._timeout_key:
            self._timeout_key = timeout
            self._timeout_value = httpx.Timeout(timeout).as_dict()
        return self._timeout_value

    def require_key(self, what: str) -> None:
        """Raise locally when an anonymous client attempts a call that needs a key."""
        if not self.config.api_key:
            raise AuthenticationError(
                f"{what} needs an API key: pass api_key='{API_KEY_PREFIX}…' or set {ENV_API_KEY} "
                "(anonymous clients can only browse the catalog)",
                status_code=401,
            )

    # -- the call flow ----------------------------------------------------------------

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        raise_for_status: bool = True,
    ) -> Flow[httpx.Response]:
        """Send ``request`` with retries; map failures to SDK exceptions.

        Retries connection failures and 429/502/503/504 with exponential backoff and
        full jitter, honouring ``Retry-After``. A request is repeated only when that
        cannot apply it twice: idempotent methods, POSTs carrying an
        ``Idempotency-Key``, and any request whose connection was never established.

        Args:
            request: The request to send.
            stream: Leave the body unread (for streaming responses).
            raise_for_status: Raise :class:`~unitysvc.exceptions.APIError` subclasses for
                4xx/5xx (control-plane calls); when False the response is returned as
                is (gateway dispatches).

        Returns:
            The final ``httpx.Response``.
        """
        policy = self.policy
        idempotent = is_idempotent(request.method, request.headers)
        debug = logger.isEnabledFor(logging.DEBUG)
        retries = 0
        while True:
            started = time.perf_counter()
            try:
                response: httpx.Response = yield Send(request, stream)
            except httpx.HTTPError as exc:
                failure = connection_error(request, exc)
                safe = idempotent or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                delay = policy.delay(retries) if safe else None
                if delay is None:
                    raise failure from exc
                if debug:
                    logger.debug("%s; retry %d in %.2fs", failure, retries + 1, delay)
                yield Sleep(delay)
                retries += 1
                continue
            status = response.status_code
            if debug:
                logger.debug(
                    "%s %s -> %d in %.1f ms %s",
                    request.method,
                    request.url,
                    status,
                    (time.perf_counter() - started) * 1000,
                    "" if stream else _short(response.content),
                )
            if status in RETRYABLE_STATUSES and idempotent:
                hint = parse_retry_after(response.headers.get("retry-after"))
                delay = policy.delay(retries, hint)
                if delay is not None:
                    if stream:
                        yield Close(response)
                    if debug:
                        logger.debug("status %d; retry %d in %.2fs", status, retries + 1, delay)
                    yield Sleep(delay)
                    retries += 1
                    continue
            if raise_for_status and status >= 400:
                raise error_for_status(
                    status,
                    response.content,
                    request_id=response.headers.get("x-request-id"),
                    retry_after=parse_retry_after(response.headers.get("retry-after")),
                )
            return response


def query_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters as the API expects them.

    ``None`` is dropped, booleans are lower-case and datetimes ISO 8601 (``str()`` of a
    datetime has a space instead of the ``T``); anything else is sent as ``str(value)``.
    """
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if value is True or value is False:
            value = "true" if value else "false"
        elif isinstance(value, datetime):
            value = value.isoformat()
        clean[key] = value
    return clean


def connection_error(
    request: httpx.Request | None,
    exc: httpx.HTTPError,
    *,
    where: str = "",
    advice: str = f"check the URL ({ENV_API_URL} / base_url=) and that the server is running",
) -> APIConnectionError:
    """Translate an httpx transport error into the SDK's exception (the one boundary).

    Args:
        request: The request that failed (named in the message without its query).
        exc: The httpx error.
        where: The stage, e.g. ``while reading the streamed body``.
        advice: What to do about a failure that is not a timeout.
    """
    target = "the request"
    if request is not None:
        target = f"{request.method} {request.url.copy_with(query=None)}"
    stage = f" {where}" if where else ""
    if isinstance(exc, httpx.TimeoutException):
        # httpx's timeout messages are mostly "timed out": the class says which one.
        return APITimeoutError(
            f"{target} timed out{stage} ({type(exc).__name__}); raise timeout= or check the server"
        )
    reason = str(exc) or type(exc).__name__
    return APIConnectionError(f"{target} failed{stage}: {reason}; {advice}")


# -- response parsing -------------------------------------------------------------------

_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def parse(model: type[ModelT], response: httpx.Response) -> ModelT:
    """Validate a JSON response body into ``model``."""
    return model.model_validate_json(response.content)


def parse_as(tp: Any, response: httpx.Response) -> Any:
    """Validate a JSON response body against any type (e.g. ``list[Model]``)."""
    adapter = _ADAPTERS.get(tp)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[tp] = TypeAdapter(tp)
    return adapter.validate_json(response.content)


def parse_json(response: httpx.Response) -> Any:
    """Decode an untyped JSON body; an empty body is None."""
    return response.json() if response.content else None


def dump(body: Any) -> Any:
    """Turn a request body (pydantic model or mapping) into JSON-ready data.

    Models are dumped with ``exclude_unset`` so that PATCH-style bodies send only
    what the caller set; mappings pass through untouched.
    """
    if hasattr(body, "model_dump"):
        return body.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return body

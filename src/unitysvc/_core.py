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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeAlias, TypedDict, TypeVar

import httpx

from unitysvc._constants import API_KEY_PREFIX, ENV_API_KEY, ENV_API_URL
from unitysvc._retry import RETRYABLE_STATUSES, RetryPolicy, is_idempotent, parse_retry_after
from unitysvc.exceptions import (
    APIConnectionError,
    APIResponseValidationError,
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
class Save:
    """Effect: stream a 2xx response's body into the file ``path``; close the response.

    The bytes go to a temporary file beside ``path`` that replaces it once complete,
    so a failed transfer leaves nothing half-written. A non-2xx body (an error
    answer) is read into the response instead and the file is not touched. The
    outcome is the response, or the httpx/OS error.
    """

    response: httpx.Response
    path: Path


@dataclass(frozen=True, slots=True)
class Emit(Generic[T]):
    """Effect of a paging flow: hand ``items`` to the iterating caller."""

    items: list[T]


Effect: TypeAlias = Send | Sleep | Close | Save
#: A flow yields effects and finally returns a ``T``.
Flow: TypeAlias = Generator[Effect, Any, T]
#: A paging flow also yields :class:`Emit` batches and returns nothing.
PageFlow: TypeAlias = Generator[Effect | Emit[T], Any, None]


class NotGiven:
    """Type of :data:`NOT_GIVEN`: "argument not passed", where ``None`` means something.

    ``client.groups.update(gid, description=None)`` clears the description;
    leaving ``description`` out (its default, ``NOT_GIVEN``) keeps it. Annotate such
    a parameter as ``str | None | NotGiven`` so type checkers know all three cases.
    """

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


#: Marks "argument not passed", where ``None`` is a meaningful value.
NOT_GIVEN: Final[NotGiven] = NotGiven()

#: A timeout as httpx takes it: seconds, an ``httpx.Timeout``, or None for none.
Timeout: TypeAlias = float | httpx.Timeout | None
#: A query value; ``None`` drops the parameter.
QueryValue: TypeAlias = str | int | float | bool | datetime | uuid.UUID | None


class RequestExtras(TypedDict, total=False):
    """The per-call options other than ``timeout`` (see :class:`RequestOptions`).

    Methods whose own ``timeout`` means something else (``Enrollments.wait``: how
    long to poll) take these; their requests use the client's timeout.
    """

    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, QueryValue]
    idempotency_key: str


class RequestOptions(RequestExtras, total=False):
    """Per-call options every SDK method takes as keyword arguments.

    Example::

        client.secrets.list(timeout=5, extra_headers={"X-Trace": "abc"})
        client.groups.create(name="team", idempotency_key="create-team-1")

    Attributes:
        timeout: This call's timeout (seconds or ``httpx.Timeout``; None: none),
            instead of the client's.
        extra_headers: Headers added to (and overriding) the SDK's for this call.
        extra_query: Query parameters added to this call's requests.
        idempotency_key: The ``Idempotency-Key`` of this call's POST requests, so
            that your own retries (or a retry after a crash) cannot apply it twice;
            creating calls get a fresh random key when you give none.
    """

    timeout: Timeout


#: No per-call options.
NO_OPTIONS: Final[RequestOptions] = {}


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
        timeout: Default timeout applied to each request (NOT_GIVEN: the httpx
            client's).
        headers: Headers the SDK adds to every request (User-Agent, the caller's
            ``default_headers``); merged per request, so a caller's own httpx client
            is never modified.
    """

    api_key: str | None
    base_url: str
    api_base_url: str
    s3_base_url: str | None
    smtp_base_url: str | None
    max_retries: int
    timeout: Timeout | NotGiven = NOT_GIVEN
    headers: Mapping[str, str] = field(default_factory=dict)


class Core:
    """Builds requests and runs the retrying call flow; shared by both clients."""

    def __init__(self, config: ClientConfig, http: httpx.Client | httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        self.policy = RetryPolicy(config.max_retries)
        # The control-plane URL, kept here (not on the httpx client, which may be
        # the caller's): a URL object for httpx's merge rule, and as a string when
        # it is a plain one, for the fast path of :meth:`request`.
        self._base_url = httpx.URL(config.base_url.rstrip("/") + "/")
        base = self._base_url
        simple = base.is_absolute_url and not base.query and not base.fragment
        self._base = str(base).rstrip("/") if simple else ""
        self._timeout_key: Timeout | NotGiven = NOT_GIVEN
        self._timeout_value: dict[str, float | None] = {}

    # -- request building -------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: object | NotGiven = NOT_GIVEN,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        options: RequestOptions = NO_OPTIONS,
        idempotent_post: bool = False,
    ) -> httpx.Request:
        """Build one request (no I/O). Every request of the SDK is built here.

        Args:
            method: HTTP method.
            url: A path relative to the control-plane URL, or an absolute URL.
            params: Query parameters; ``None`` values are dropped, booleans sent as
                ``true``/``false``.
            json: JSON body (not sent when NOT_GIVEN).
            content: Raw body.
            headers: The call's headers; an explicit ``Authorization`` wins over the key.
            options: The caller's per-call :class:`RequestOptions`.
            idempotent_post: Attach a fresh ``Idempotency-Key`` (unless the caller gave
                one) so retries of this creating POST cannot apply it twice.

        Returns:
            The ``httpx.Request``.
        """
        config = self.config
        merged = self._headers(method, headers, options, idempotent_post)
        extra_query = options.get("extra_query")
        if extra_query:
            params = {**params, **extra_query} if params else extra_query
        clean_params = query_params(params) if params else None
        extra: dict[str, Any] = {}
        if not isinstance(json, NotGiven):
            extra["json"] = json
        elif content is not None:
            extra["content"] = content
        timeout = options.get("timeout", config.timeout)
        http = self.http
        target: str | httpx.URL = url
        base = self._base
        if base and url[:1] == "/" and url[1:2] != "/" and "?" not in url and "#" not in url:
            # Control-plane paths (every resource call): one URL string, parsed once
            # by httpx, instead of httpx merging base URL, path and query params
            # through three parses. The result is the URL httpx's merge gives; the
            # query is encoded by httpx's own QueryParams.
            if clean_params and not http.params:
                target = f"{base}{url}?{httpx.QueryParams(clean_params)}"
                clean_params = None
            else:
                target = base + url
        else:
            target = self._merge_url(url)
        if not isinstance(timeout, NotGiven):
            extra["extensions"] = {"timeout": self._timeout_dict(timeout)}
        return http.build_request(method, target, params=clean_params, headers=merged, **extra)

    def _headers(
        self,
        method: str,
        headers: Mapping[str, str] | None,
        options: RequestOptions,
        idempotent_post: bool,
    ) -> dict[str, str]:
        """A request's headers: key, idempotency key and the caller's extras merged."""
        config = self.config
        # The client's headers first, the call's next, the caller's extras last; the
        # caller's own httpx client keeps its headers and is never written to.
        merged = {**config.headers, **headers} if headers else dict(config.headers)
        extra_headers = options.get("extra_headers")
        if extra_headers:
            merged.update(extra_headers)
        lower = {k.lower() for k in merged}
        key = config.api_key
        if key and "authorization" not in lower:
            merged["Authorization"] = f"Bearer {key}"
        if method == "POST" and "idempotency-key" not in lower:
            given = options.get("idempotency_key")
            if given is not None:
                merged["Idempotency-Key"] = given
            elif idempotent_post:
                merged["Idempotency-Key"] = str(uuid.uuid4())
        return merged

    def _merge_url(self, url: str) -> httpx.URL:
        """``url`` against the control-plane URL, by httpx's rule for a client's base_url."""
        parsed = httpx.URL(url)
        if parsed.is_relative_url:
            base = self._base_url
            return base.copy_with(raw_path=base.raw_path + parsed.raw_path.lstrip(b"/"))
        return parsed

    def _timeout_dict(self, timeout: Timeout) -> dict[str, float | None]:
        """``httpx.Timeout(timeout).as_dict()``, cached: it is the same for most calls."""
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
                safe = idempotent or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                delay = policy.delay(retries) if safe else None
                failure = connection_error(request, exc, attempts=retries + 1)
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


def query_params(params: Mapping[str, QueryValue]) -> dict[str, str | int | float]:
    """Query parameters as the API expects them.

    ``None`` is dropped, booleans are lower-case and datetimes ISO 8601 (``str()`` of a
    datetime has a space instead of the ``T``); anything else is sent as ``str(value)``.
    """
    clean: dict[str, str | int | float] = {}
    for key, value in params.items():
        if value is None:
            continue
        if value is True or value is False:
            clean[key] = "true" if value else "false"
        elif isinstance(value, datetime):
            clean[key] = value.isoformat()
        elif isinstance(value, uuid.UUID):
            clean[key] = str(value)
        else:
            clean[key] = value
    return clean


def connection_error(
    request: httpx.Request | None,
    exc: httpx.HTTPError,
    *,
    where: str = "",
    advice: str = f"check the URL ({ENV_API_URL} / base_url=) and that the server is running",
    attempts: int = 1,
) -> APIConnectionError:
    """Translate an httpx transport error into the SDK's exception (the one boundary).

    Args:
        request: The request that failed (named in the message without its query).
        exc: The httpx error.
        where: The stage, e.g. ``while reading the streamed body``.
        advice: What to do about a failure that is not a timeout.
        attempts: How many times the request was tried (the message says so when
            it was retried).
    """
    url = str(request.url.copy_with(query=None)) if request is not None else None
    target = f"{request.method} {url}" if request is not None else "the request"
    stage = f" {where}" if where else ""
    tried = f" (tried {attempts} times)" if attempts > 1 else ""
    if isinstance(exc, httpx.TimeoutException):
        # httpx's timeout messages are mostly "timed out": the class says which one.
        timeout = APITimeoutError(
            f"{target} timed out{stage}{tried} ({type(exc).__name__}); raise timeout= or "
            "check the server"
        )
        timeout.url, timeout.attempts, timeout.reason = url, attempts, "timed out"
        return timeout
    reason = _reason(exc)
    error = APIConnectionError(f"{target} failed{stage}{tried}: {reason}; {advice}")
    error.url, error.attempts, error.reason = url, attempts, reason
    return error


def _reason(exc: httpx.HTTPError) -> str:
    """httpx's error text without the OS's ``[Errno 111]`` prefix."""
    text = str(exc) or type(exc).__name__
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]
    return text[:1].lower() + text[1:]


# -- response parsing -------------------------------------------------------------------

_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def parse(model: type[ModelT], response: httpx.Response) -> ModelT:
    """Validate a JSON response body into ``model``.

    Raises:
        APIResponseValidationError: The body is not JSON of that shape.
    """
    from pydantic import ValidationError as PydanticValidationError

    try:
        return model.model_validate_json(response.content)
    except PydanticValidationError as exc:
        raise response_validation_error(response, model.__name__, exc) from exc


def parse_as(tp: type[T], response: httpx.Response) -> T:
    """Validate a JSON response body against any type (e.g. ``list[Model]``).

    Raises:
        APIResponseValidationError: The body is not JSON of that shape.
    """
    from pydantic import TypeAdapter
    from pydantic import ValidationError as PydanticValidationError

    adapter = _ADAPTERS.get(tp)
    if adapter is None:
        adapter = _ADAPTERS[tp] = TypeAdapter(tp)
    try:
        result: T = adapter.validate_json(response.content)
    except PydanticValidationError as exc:
        raise response_validation_error(response, str(tp), exc) from exc
    return result


def parse_json(response: httpx.Response) -> object:
    """Decode an untyped JSON body; an empty body is None.

    Raises:
        APIResponseValidationError: The body is not JSON.
    """
    if not response.content:
        return None
    try:
        decoded: object = response.json()
    except ValueError as exc:
        raise response_validation_error(response, "JSON", exc) from exc
    return decoded


def response_validation_error(
    response: httpx.Response, expected: str, cause: Exception
) -> APIResponseValidationError:
    """The SDK error for a success status whose body is not what the contract says."""
    first = str(cause).splitlines()
    reason = " ".join(line.strip() for line in first[:3]) if first else type(cause).__name__
    request = response.request
    request_id = response.headers.get("x-request-id")
    body = response.content[:200].decode("utf-8", "replace")
    message = (
        f"{request.method} {request.url.copy_with(query=None)} answered "
        f"{response.status_code} with a body that is not a valid {expected}: {reason}"
        f" (body starts {body!r}; is the URL a unitysvc server of a matching version?)"
    )
    if request_id:
        message += f" [request id {request_id}]"
    return APIResponseValidationError(
        message,
        status_code=response.status_code,
        response_body=response.content,
        request_id=request_id,
    )


def dump(body: object) -> object:
    """Turn a request body (pydantic model or mapping) into JSON-ready data.

    Models are dumped with ``exclude_unset`` so that PATCH-style bodies send only
    what the caller set; mappings pass through untouched.
    """
    if hasattr(body, "model_dump"):
        dumped: object = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
        return dumped
    if isinstance(body, Mapping):
        return dict(body)
    return body

"""``Client`` and ``AsyncClient``: configuration, resources and raw gateway access."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import ssl
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Unpack, overload

import httpx

from unitysvc._constants import (
    API_KEY_PREFIX,
    DEFAULT_API_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_API_BASE_URL,
    ENV_API_KEY,
    ENV_API_URL,
    ENV_LOG,
    ENV_S3_BASE_URL,
    ENV_SMTP_BASE_URL,
)
from unitysvc._core import (
    NOT_GIVEN,
    ClientConfig,
    Core,
    Flow,
    NotGiven,
    RequestExtras,
    RequestOptions,
    Timeout,
)
from unitysvc._drivers import AsyncDriver, SyncDriver
from unitysvc._keys import redact_key
from unitysvc._ops import Async, Bound, Context, M, Sync, op, stream_op
from unitysvc._version import __version__
from unitysvc.exceptions import invalid_argument

if TYPE_CHECKING:
    from unitysvc._gateway import DispatchBody
    from unitysvc.aliases import Aliases, AsyncAliases
    from unitysvc.broadcasts import AsyncBroadcasts, Broadcasts
    from unitysvc.budgets import AsyncBudgets, Budgets
    from unitysvc.chains import AsyncChains, Chains
    from unitysvc.enrollments import AsyncEnrollments, Enrollments
    from unitysvc.files import AsyncFiles, Files
    from unitysvc.groups import AsyncGroups, Groups
    from unitysvc.models import ResolveResponse
    from unitysvc.preferences import AsyncPreferences, Preferences
    from unitysvc.recurrent_requests import AsyncRecurrentRequests, RecurrentRequests
    from unitysvc.request_logs import AsyncRequestLogs, RequestLogs
    from unitysvc.secrets import AsyncSecrets, Secrets
    from unitysvc.services import AsyncServices, Services
    from unitysvc.usage import AsyncUsage, Usage

__all__ = ["AsyncClient", "Client"]

_USER_AGENT = f"unitysvc-python/{__version__}"

S = TypeVar("S")
A = TypeVar("A")
Self = TypeVar("Self", bound="_ClientBase[Any]")

_log_configured = False


def _configure_logging() -> None:
    """Honour ``UNITYSVC_LOG=debug|info`` once per process."""
    global _log_configured
    if _log_configured:
        return
    _log_configured = True
    level = os.environ.get(ENV_LOG, "").strip().upper()
    if level in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        logger = logging.getLogger("unitysvc")
        logger.setLevel(level)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
            )
            logger.addHandler(handler)


def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certificate checks on), built once per process.

    Building one loads the whole CA bundle, ~20-50 ms, and httpx builds a new one for
    every client: every ``Client`` (and ``with_options`` clone, and CLI command) paid it.
    One context is safe to share between clients and threads. Cached per CA location
    httpx reads from the environment (``SSL_CERT_FILE``, ``SSL_CERT_DIR``), so changing
    those still takes effect.
    """
    return _ssl_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _ssl_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # The locations httpx's default context honours, in its order; else certifi's bundle.
    if cert_file:
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir:
        return ssl.create_default_context(capath=cert_dir)
    return httpx.create_ssl_context(trust_env=False)


def _check_api_key(api_key: str | None) -> str | None:
    if api_key is None:
        return None
    if api_key == "":
        raise invalid_argument(
            "api_key",
            "",
            "an empty string (an unset environment variable?)",
            f"pass a '{API_KEY_PREFIX}…' key, or omit api_key for anonymous catalog access",
        )
    if not api_key.startswith(API_KEY_PREFIX):
        # Only the first characters are shown: the rest may be a real secret.
        raise invalid_argument(
            "api_key",
            api_key[:4] + "…",
            f"a customer key starts with {API_KEY_PREFIX!r}",
        )
    return api_key


def _gateway_root(api_base_url: str | None, base_url: str) -> str:
    """The gateway root: explicit, else the control-plane URL without ``/v1``."""
    if api_base_url:
        return api_base_url.rstrip("/")
    root = base_url.rstrip("/")
    root = root.removesuffix("/v1")
    if not root:
        raise invalid_argument(
            "api_base_url",
            api_base_url,
            "cannot be derived from base_url",
            f"set api_base_url= or {ENV_API_BASE_URL}",
        )
    return root


class _ResourceSlot(Generic[S, A]):
    """Lazily imported, per-client cached resource (``client.secrets`` ...).

    Importing a resource module pulls in its pydantic models, so it is deferred
    until first use to keep ``import unitysvc`` fast.
    """

    def __init__(self, module: str, sync_name: str, async_name: str) -> None:
        self._module = module
        self._names = (sync_name, async_name)
        self._attr = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._attr = name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> type[S] | type[A]: ...
    @overload
    def __get__(self, obj: Bound[Sync], owner: type[Any]) -> S: ...
    @overload
    def __get__(self, obj: Bound[Async], owner: type[Any]) -> A: ...
    def __get__(self, obj: Bound[Any] | None, owner: type[Any]) -> Any:
        module = importlib.import_module(self._module)
        if obj is None:
            # On the class: the resource class of the client's flavour, so that
            # ``create_autospec(AsyncClient)`` specs ``.secrets`` as AsyncSecrets.
            return getattr(module, self._names[owner._mode is Async])
        cls = getattr(module, self._names[obj._ctx.driver.is_async])
        resource = cls(obj._ctx)
        obj.__dict__[self._attr] = resource  # cached: later lookups skip the descriptor
        return resource


class _ClientBase(Bound[M], Generic[M]):
    """Configuration and resources shared by :class:`Client` and :class:`AsyncClient`."""

    groups: _ResourceSlot[Groups, AsyncGroups] = _ResourceSlot(
        "unitysvc.groups", "Groups", "AsyncGroups"
    )
    services: _ResourceSlot[Services, AsyncServices] = _ResourceSlot(
        "unitysvc.services", "Services", "AsyncServices"
    )
    enrollments: _ResourceSlot[Enrollments, AsyncEnrollments] = _ResourceSlot(
        "unitysvc.enrollments", "Enrollments", "AsyncEnrollments"
    )
    secrets: _ResourceSlot[Secrets, AsyncSecrets] = _ResourceSlot(
        "unitysvc.secrets", "Secrets", "AsyncSecrets"
    )
    aliases: _ResourceSlot[Aliases, AsyncAliases] = _ResourceSlot(
        "unitysvc.aliases", "Aliases", "AsyncAliases"
    )
    recurrent_requests: _ResourceSlot[RecurrentRequests, AsyncRecurrentRequests] = _ResourceSlot(
        "unitysvc.recurrent_requests", "RecurrentRequests", "AsyncRecurrentRequests"
    )
    request_logs: _ResourceSlot[RequestLogs, AsyncRequestLogs] = _ResourceSlot(
        "unitysvc.request_logs", "RequestLogs", "AsyncRequestLogs"
    )
    preferences: _ResourceSlot[Preferences, AsyncPreferences] = _ResourceSlot(
        "unitysvc.preferences", "Preferences", "AsyncPreferences"
    )
    usage: _ResourceSlot[Usage, AsyncUsage] = _ResourceSlot("unitysvc.usage", "Usage", "AsyncUsage")
    budgets: _ResourceSlot[Budgets, AsyncBudgets] = _ResourceSlot(
        "unitysvc.budgets", "Budgets", "AsyncBudgets"
    )
    chains: _ResourceSlot[Chains, AsyncChains] = _ResourceSlot(
        "unitysvc.chains", "Chains", "AsyncChains"
    )
    broadcasts: _ResourceSlot[Broadcasts, AsyncBroadcasts] = _ResourceSlot(
        "unitysvc.broadcasts", "Broadcasts", "AsyncBroadcasts"
    )
    files: _ResourceSlot[Files, AsyncFiles] = _ResourceSlot("unitysvc.files", "Files", "AsyncFiles")

    _http_class: type[httpx.Client] | type[httpx.AsyncClient]
    _driver_class: type[SyncDriver] | type[AsyncDriver]

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_base_url: str | None = None,
        s3_base_url: str | None = None,
        smtp_base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        verify_ssl: bool = True,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | httpx.AsyncClient | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        _configure_logging()
        if max_retries < 0:
            raise invalid_argument("max_retries", max_retries, "must be >= 0 (0 disables retries)")
        resolved_base = (base_url or os.environ.get(ENV_API_URL) or DEFAULT_API_URL).rstrip("/")
        headers = dict(default_headers or {})
        owns_http = http_client is None
        if http_client is None:
            verify = shared_ssl_context() if verify_ssl else False
            kwargs: dict[str, Any] = {"timeout": timeout, "verify": verify}
            if transport is not None:
                kwargs["transport"] = transport
            http_client = self._http_class(**kwargs)
            headers = {"User-Agent": _USER_AGENT, **headers}
        elif http_client.headers.get("user-agent", "").startswith("python-httpx/"):
            # The caller's client has httpx's default User-Agent: say who we are, per
            # request (their client is not modified). A User-Agent they set wins.
            headers = {"User-Agent": _USER_AGENT, **headers}
        config = ClientConfig(
            api_key=_check_api_key(api_key),
            base_url=resolved_base,
            api_base_url=_gateway_root(
                api_base_url or os.environ.get(ENV_API_BASE_URL), resolved_base
            ),
            s3_base_url=s3_base_url or os.environ.get(ENV_S3_BASE_URL),
            smtp_base_url=smtp_base_url or os.environ.get(ENV_SMTP_BASE_URL),
            max_retries=max_retries,
            # A client brought by the caller keeps its own timeout unless one is
            # set through with_options() or per call.
            timeout=timeout if owns_http else NOT_GIVEN,
            headers=headers,
        )
        self._owns_http = owns_http
        self._ctx = Context(Core(config, http_client), self._driver_class(http_client))  # type: ignore[arg-type]

    def _clone(self: Self, config: ClientConfig) -> Self:
        """A client of ``config`` on this client's connection pool (which it won't close)."""
        clone = object.__new__(type(self))
        clone._owns_http = False
        clone._ctx = Context(Core(config, self._ctx.core.http), self._ctx.driver)
        return clone

    @classmethod
    def from_env(cls: type[Self], **kwargs: Any) -> Self:
        """Construct a client from environment variables.

        Reads ``UNITYSVC_API_KEY`` (required) and ``UNITYSVC_API_URL`` (optional). Any
        extra keyword arguments are forwarded to the constructor.

        Raises:
            RuntimeError: ``UNITYSVC_API_KEY`` is not set.
        """
        key = os.environ.get(ENV_API_KEY)
        if key is None:
            raise RuntimeError(
                f"{ENV_API_KEY} is not set: export {ENV_API_KEY}=svcpass_… or pass api_key="
            )
        return cls(key, **kwargs)

    @property
    def api_key(self) -> str | None:
        """The customer key in use (None for anonymous clients)."""
        return self._ctx.core.config.api_key

    @property
    def base_url(self) -> str:
        """The control-plane URL, e.g. ``https://api.unitysvc.com/v1``."""
        return self._ctx.core.config.base_url

    @property
    def api_base_url(self) -> str:
        """The HTTP gateway root, e.g. ``https://api.unitysvc.com``."""
        return self._ctx.core.config.api_base_url

    @property
    def s3_base_url(self) -> str | None:
        """The S3 gateway root, if configured."""
        return self._ctx.core.config.s3_base_url

    @property
    def smtp_base_url(self) -> str | None:
        """The SMTP gateway root, if configured."""
        return self._ctx.core.config.smtp_base_url

    @property
    def max_retries(self) -> int:
        """Retries per call after the first attempt."""
        return self._ctx.core.config.max_retries

    def with_options(
        self: Self,
        *,
        api_key: str | None | NotGiven = NOT_GIVEN,
        base_url: str | NotGiven = NOT_GIVEN,
        api_base_url: str | NotGiven = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
    ) -> Self:
        """A configured copy of this client, sharing its connection pool.

        Only what you pass changes; this client is left as it is. Closing the copy
        does not close the shared pool (close the original for that).

        Args:
            api_key: Another customer key (None: anonymous).
            base_url: Another control-plane URL (the gateway URL follows it unless
                ``api_base_url`` is given too).
            api_base_url: Another gateway root.
            timeout: Default timeout of the copy's requests (None: no timeout).
            max_retries: Retries of the copy's failed idempotent calls.
            default_headers: Headers added to (and overriding) this client's.

        Example::

            client.with_options(max_retries=0, timeout=5).secrets.list()
        """
        config = self._ctx.core.config
        changes: dict[str, Any] = {}
        if not isinstance(api_key, NotGiven):
            changes["api_key"] = _check_api_key(api_key)
        if not isinstance(base_url, NotGiven):
            changes["base_url"] = base_url.rstrip("/")
            if isinstance(api_base_url, NotGiven):
                changes["api_base_url"] = _gateway_root(None, changes["base_url"])
        if not isinstance(api_base_url, NotGiven):
            changes["api_base_url"] = api_base_url.rstrip("/")
        if not isinstance(timeout, NotGiven):
            changes["timeout"] = timeout
        if not isinstance(max_retries, NotGiven):
            if max_retries < 0:
                raise invalid_argument(
                    "max_retries", max_retries, "must be >= 0 (0 disables retries)"
                )
            changes["max_retries"] = max_retries
        if not isinstance(default_headers, NotGiven):
            changes["headers"] = {**config.headers, **default_headers}
        return self._clone(replace(config, **changes))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, "
            f"api_key={redact_key(self.api_key)!r})"
        )

    @op
    def resolve(
        self,
        *,
        path: str,
        routing_key: Mapping[str, object] | None = None,
        gateway: str = "api",
        strategy: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[ResolveResponse]:
        """Dry-run resolve a gateway path + routing key.

        Mirrors the gateway's selection decision without calling the upstream —
        useful for debugging routing or picking a service ahead of dispatch. See
        :func:`unitysvc.resolve.resolve`.
        """
        from unitysvc.resolve import resolve_flow

        return (
            yield from resolve_flow(
                self._ctx,
                path=path,
                routing_key=routing_key,
                gateway=gateway,
                strategy=strategy,
                options=options,
            )
        )

    def _dispatch(
        self,
        stream: bool,
        path: str,
        *,
        method: str = "POST",
        json: object = None,
        data: DispatchBody = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **options: Unpack[RequestExtras],
    ) -> Flow[httpx.Response]:
        """Send a request to a raw gateway path (the escape hatch).

        Args:
            path: Gateway-relative path, sent verbatim; may carry wrapper prefixes and a
                query string (e.g. ``m/g/llm/chat/completions?_ttl=5m``).
            method: HTTP method. Defaults to POST.
            json: JSON body (exclusive with ``data``).
            data: Raw body.
            headers: Extra headers.
            timeout: Per-request timeout in seconds.
            **options: ``extra_headers``, ``extra_query``, ``idempotency_key``.

        Returns:
            The raw ``httpx.Response``; upstream 4xx/5xx are returned, not raised.
        """
        # Imported on first dispatch: the gateway and wrapper modules are not needed
        # by control-plane calls, and ``import unitysvc`` stays cheaper without them.
        from unitysvc._gateway import dispatch_flow, join_url

        url = join_url(self.api_base_url, path)
        return (
            yield from dispatch_flow(
                self._ctx,
                url,
                stream=stream,
                method=method,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout,
                options=options,
            )
        )

    dispatch = op.unstreamed(_dispatch)
    stream = stream_op(
        _dispatch,
        """Like :meth:`dispatch`, but consume the response lazily (SSE, NDJSON, chunks).

        Example::

            with client.stream("g/llm/chat/completions", json={..., "stream": True}) as r:
                for event in r.iter_events():
                    print(event.parsed)
        """,
    )


class Client(_ClientBase[Sync]):
    """Synchronous customer SDK client.

    Args:
        api_key: A customer API key (``svcpass_…``), which encodes the customer. Omit it
            for an anonymous client that can browse the catalog; ``""`` is rejected.
        base_url: Control-plane URL. Falls back to ``UNITYSVC_API_URL``, then to
            ``DEFAULT_API_URL``.
        api_base_url: HTTP gateway root. Falls back to ``UNITYSVC_API_BASE_URL``, then to
            ``base_url`` without its ``/v1``.
        s3_base_url: S3 gateway root. Falls back to ``UNITYSVC_S3_BASE_URL``.
        smtp_base_url: SMTP gateway root. Falls back to ``UNITYSVC_SMTP_BASE_URL``.
        timeout: Per-request timeout in seconds (or an ``httpx.Timeout``). Default 30 s.
        verify_ssl: Whether to verify TLS certificates.
        max_retries: Retries of failed idempotent calls (0 disables). Default 2.
        default_headers: Headers sent with every request.
        http_client: Bring your own ``httpx.Client`` (not closed by :meth:`close`).
        transport: A custom httpx transport for the client the SDK creates.

    Example::

        with unitysvc.Client("svcpass_…") as client:
            for group in client.groups.list():
                print(group.name)
    """

    _http_class = httpx.Client
    _driver_class = SyncDriver

    def close(self) -> None:
        """Close the connection pool (unless it was passed in as ``http_client``)."""
        if self._owns_http:
            http: Any = self._ctx.core.http
            http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_ClientBase[Async]):
    """Asynchronous customer SDK client: :class:`Client`'s API as coroutines.

    Takes the same arguments as :class:`Client` (``http_client`` must be an
    ``httpx.AsyncClient``).

    Example::

        async with unitysvc.AsyncClient("svcpass_…") as client:
            page = await client.secrets.list()
    """

    _http_class = httpx.AsyncClient
    _driver_class = AsyncDriver

    async def close(self) -> None:
        """Close the connection pool (unless it was passed in as ``http_client``)."""
        if self._owns_http:
            http: Any = self._ctx.core.http
            await http.aclose()

    async def aclose(self) -> None:
        """Alias of :meth:`close`."""
        await self.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

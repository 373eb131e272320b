"""Settings of one platform process.

:class:`Settings` is a frozen value object built once (by the CLI, by
:class:`~unitysvc_server.testing.LocalPlatform` or by a user's own code) and
handed to :func:`unitysvc_server.app.create_app`. Everything else derives from
it; nothing reads the environment behind its back except the secret key
fallback documented on :attr:`Settings.secret_key`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

#: Default request-body cap of the control-plane API (10 MiB).
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
#: Defaults of the limits on what a client may send before anything reads it
#: (``unitysvc_server.serving``).
DEFAULT_MAX_REQUEST_LINE_BYTES = 16 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_HEADERS_BYTES = 64 * 1024
DEFAULT_MAX_HEADER_COUNT = 100
DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_CLIENT_TIMEOUT = 10.0

_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_DB_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")


class SettingsError(ValueError):
    """A setting has an invalid value; the message names the field and the fix."""


def _origin(value: str, field_name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(
            f"{field_name}: {value!r} is not an origin; use scheme://host[:port], "
            "e.g. https://api.groq.com"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(
            f"{field_name}: {value!r} must be an origin without path or query, "
            "e.g. http://127.0.0.1:9001"
        )
    return f"{parts.scheme}://{parts.netloc}".lower()


def _host(value: str) -> str:
    host = value.strip().lower().rstrip(".")
    if not host or any(c in host for c in "/:@ ?#"):
        raise SettingsError(
            f"resolve: {value!r} is not a host name; use HOST=ADDRESS, e.g. "
            "api.example.com=203.0.113.7"
        )
    return host


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise SettingsError(
            f"resolve: {value!r} is not an IP address; use HOST=ADDRESS, e.g. "
            "api.example.com=203.0.113.7"
        ) from None


@dataclass(frozen=True)
class Settings:
    """Configuration of one platform process.

    Attributes:
        host: Interface the server binds to.
        port: TCP port the server binds to (0 lets the OS choose; the test helper
            picks a free port itself so URLs are known before start).
        data_dir: Directory holding the SQLite database, the generated secret
            key and stored objects. Created on start if missing.
        database_url: SQLAlchemy async URL. ``None`` means the embedded SQLite
            database ``<data_dir>/unitysvc.db``; PostgreSQL is
            ``postgresql+asyncpg://user@host/db``.
        redis_url: Optional Redis URL for shared caches and rate limits.
        secret_key: Fernet key encrypting customer secrets at rest. ``None``
            falls back to env ``UNITYSVC_SECRET_KEY``, else a key generated once
            into ``<data_dir>/secret.key`` (mode 0600).
        demo: Load the built-in demo catalog and run its mock upstreams.
        catalogs: Seller catalog directories to load.
        groups_file: TOML file declaring groups and their routing policy.
        upstreams: Upstream origin -> replacement origin (e.g. point
            ``https://api.groq.com`` at a local fake).
        allow_private_upstreams: Let the gateway reach loopback/private
            addresses (needed for local fakes; off by default against SSRF).
        resolve: Host name -> IP address the gateway connects to instead of
            asking DNS (like curl's ``--resolve``); the address is vetted by the
            SSRF policy like a resolved one.
        public_url: Externally visible root URL; defaults to one built from
            host and port.
        rate_limit_rps: Per-customer gateway requests per second (None: off).
        rate_limit_burst: Token-bucket size of that limit.
        scheduler_enabled: Run the recurrent-request scheduler.
        max_body_bytes: Largest accepted control-plane request body (413 above).
        admin_token: Bearer token of the operator's admin API (``/v1/admin/``);
            ``None`` turns the admin API off. At least 16 characters.
        max_request_line_bytes: Longest request line (method, URL, version); 414 above.
        max_header_bytes: Longest single header line; 431 above.
        max_headers_bytes: Most header bytes of one request in all; 431 above.
        max_header_count: Most headers of one request; 431 above.
        max_connections: Most client connections held at once; more are answered
            503 and closed.
        client_timeout: Seconds a client has to send a request's headers (408 and
            close after), and the longest it may pause while sending a body.
        log_level: Python logging level name.
        workers: Server processes sharing the port (``usvc server start --workers``).
        metrics: Serve ``GET /metrics`` in the Prometheus text format (404 otherwise).
        metrics_public: Serve ``/metrics`` without a token; by default it needs
            ``Authorization: Bearer <admin_token>``.
        otel_endpoint: OTLP/HTTP collector URL receiving OpenTelemetry traces of gateway
            calls (``None``: no tracing). A bare origin gets ``/v1/traces`` appended.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=lambda: Path.home() / ".unitysvc" / "server")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    demo: bool = False
    catalogs: tuple[Path, ...] = ()
    groups_file: Path | None = None
    upstreams: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    allow_private_upstreams: bool = False
    resolve: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    public_url: str | None = None
    rate_limit_rps: float | None = None
    rate_limit_burst: int = 20
    scheduler_enabled: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    admin_token: str | None = field(default=None, repr=False)
    max_request_line_bytes: int = DEFAULT_MAX_REQUEST_LINE_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_headers_bytes: int = DEFAULT_MAX_HEADERS_BYTES
    max_header_count: int = DEFAULT_MAX_HEADER_COUNT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    client_timeout: float = DEFAULT_CLIENT_TIMEOUT
    log_level: str = "INFO"
    workers: int = 1
    metrics: bool = False
    metrics_public: bool = False
    otel_endpoint: str | None = None

    def __post_init__(self) -> None:
        # Normalise loosely-typed inputs (str paths, lists, dicts) so the frozen
        # value is hashable-ish and safe to share between threads.
        set_ = object.__setattr__
        set_(self, "data_dir", Path(self.data_dir).expanduser())
        set_(self, "catalogs", tuple(Path(c).expanduser() for c in self.catalogs))
        if self.groups_file is not None:
            set_(self, "groups_file", Path(self.groups_file).expanduser())
        set_(
            self,
            "upstreams",
            MappingProxyType(
                {
                    _origin(k, "upstreams (key)"): _origin(v, "upstreams (value)")
                    for k, v in dict(self.upstreams).items()
                }
            ),
        )
        set_(
            self,
            "resolve",
            MappingProxyType({_host(k): _address(v) for k, v in dict(self.resolve).items()}),
        )
        set_(self, "log_level", str(self.log_level).upper())
        self._validate()

    def _validate(self) -> None:
        # In field order, so the first offending field is the one reported.
        self._validate_addresses()
        self._validate_limits()

    def _validate_addresses(self) -> None:
        if not self.host:
            raise SettingsError("host: must not be empty; use e.g. 127.0.0.1")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port: {self.port} is out of range; use 0..65535")
        if self.database_url is not None:
            scheme = self.database_url.split("://", 1)[0]
            if scheme not in _DB_SCHEMES:
                raise SettingsError(
                    f"database_url: unsupported scheme {scheme!r}; use "
                    "sqlite+aiosqlite:///path/to/db or postgresql+asyncpg://user@host/db"
                )
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise SettingsError("redis_url: must start with redis://, rediss:// or unix://")
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SettingsError(
                    f"public_url: {self.public_url!r} is not an absolute http(s) URL"
                )

    def _validate_limits(self) -> None:
        if self.rate_limit_rps is not None and self.rate_limit_rps <= 0:
            raise SettingsError("rate_limit_rps: must be positive, or None to disable")
        if self.rate_limit_burst < 1:
            raise SettingsError("rate_limit_burst: must be at least 1")
        if self.max_body_bytes < 1024:
            raise SettingsError("max_body_bytes: must be at least 1024")
        if self.admin_token is not None and (
            len(self.admin_token) < 16 or self.admin_token.startswith("svcpass_")
        ):
            raise SettingsError(
                "admin_token: use at least 16 random characters that do not start with "
                "svcpass_ (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        for name in ("max_request_line_bytes", "max_header_bytes", "max_headers_bytes"):
            if getattr(self, name) < 1024:
                raise SettingsError(f"{name}: must be at least 1024 bytes")
        if self.max_header_bytes > self.max_headers_bytes:
            raise SettingsError(
                "max_header_bytes: must not exceed max_headers_bytes (the total of all headers)"
            )
        if self.max_header_count < 10:
            raise SettingsError("max_header_count: must be at least 10")
        if self.max_connections < 1 or self.workers < 1:
            name = "max_connections" if self.max_connections < 1 else "workers"
            raise SettingsError(f"{name}: must be at least 1")
        if not self.client_timeout > 0:
            raise SettingsError("client_timeout: must be a positive number of seconds")
        self._validate_observability()
        if self.log_level not in _LOG_LEVELS:
            raise SettingsError(f"log_level: use one of {', '.join(_LOG_LEVELS)}")

    def _validate_observability(self) -> None:
        if self.metrics_public and not self.metrics:
            raise SettingsError("metrics_public: only applies with metrics on (--metrics)")
        if self.metrics and not self.metrics_public and not self.admin_token:
            raise SettingsError(
                "metrics: /metrics is served only with the admin token; give admin_token "
                "(--admin-token), or open it to anyone who can reach the port with "
                "metrics_public (--metrics-public)"
            )
        if self.otel_endpoint is not None:
            parts = urlsplit(self.otel_endpoint)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SettingsError(
                    f"otel_endpoint: {self.otel_endpoint!r} is not an http(s) URL; use the "
                    "collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318"
                )

    @property
    def resolved_database_url(self) -> str:
        """The database URL actually used (the embedded SQLite file by default)."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'unitysvc.db'}"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.resolved_database_url.startswith("sqlite")

    @property
    def gateway_url(self) -> str:
        """Externally visible root URL of the gateway (no trailing slash)."""
        if self.public_url is not None:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Externally visible control-plane base URL (``<gateway_url>/v1``)."""
        return f"{self.gateway_url}/v1"

    @property
    def log_level_number(self) -> int:
        """The numeric :mod:`logging` level."""
        return int(logging.getLevelName(self.log_level))

"""The gateway path grammar: wrapper prefixes, addressing primitives, gateway parameters.

A gateway request path looks like ``[<wrapper>/]...<address>[/<sub-path>][?query]``:

* wrappers ``l/`` (log), ``m/`` (memoize), ``f/`` (failover), ``t/`` (tee), ``d/``
  (delayed: ``_at=<ISO-8601>`` or ``_in=<duration>``) and ``r/`` (recurrent:
  ``_every=<duration>``), in any order and any number;
* the address: ``p/<service-id>``, ``g/<group>``, ``a/<alias>``, ``e/<code>``, ``c/<chain>``,
  ``b/<broadcast>``, or any other path, looked up among the paths listings declare
  (``p/groq``, ``ollama``, ``cohere/command-r-plus``);
* gateway parameters ``_complete``, ``_ttl``, ``_renew``, ``_else``, ``_to``, ``_at``,
  ``_in``, ``_every`` in the query;
  every other query parameter is forwarded upstream untouched.

Parsing is pure: :func:`parse_gateway_path` turns the raw path and query into a
:class:`GatewayPath` or raises :class:`PathError` carrying the status and a message that
names the offending part.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import unquote, unquote_plus

from unitysvc_server.redaction import contains_key_shape

AddressKind = Literal["service", "group", "alias", "enrollment", "chain", "broadcast", "path"]

#: Address prefixes and what they name.
ADDRESS_PREFIXES: dict[str, AddressKind] = {
    "p": "service",
    "g": "group",
    "a": "alias",
    "e": "enrollment",
    "c": "chain",
    "b": "broadcast",
}
WRAPPER_PREFIXES = frozenset("lmftdr")
#: The wrappers that schedule the call instead of making it now.
SCHEDULE_WRAPPERS = frozenset("dr")
_SCHEDULE_PARAMS = frozenset({"_at", "_in", "_every"})

GATEWAY_PARAMS = frozenset({"_complete", "_ttl", "_renew", "_else", "_to", "_at", "_in", "_every"})

#: Deepest nesting of addresses that name other gateway paths (alias -> chain -> ...):
#: beyond it the gateway answers 508 and ``/v1/resolve`` 400, stopping loops.
MAX_NESTING = 8

DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 7 * 86400
#: Longest ``_in`` delay and ``_every`` interval (the recurrent requests' own bound).
MAX_SCHEDULE_SECONDS = 366 * 86400
_TTL = re.compile(r"^([0-9]+)([smhd])$")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# The official SDK appends a second "?" when two query-bearing wrappers are chained
# ("l/m/p/x?_ttl=1h?_complete="); a "?" that starts a gateway parameter is a separator.
_SPLIT = re.compile(rb"&|\?(?=_)")


class PathError(Exception):
    """A gateway path that cannot be served.

    Attributes:
        status: The HTTP status to answer with (400, 404 or 501).
        detail: A message naming the offending part and the fix.
        error_type: A short machine-readable reason; ``None`` lets the caller derive
            one from the status.
    """

    def __init__(self, status: int, detail: str, error_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error_type = error_type


#: Percent-decoding rounds a segment gets before it is judged: double encoding
#: (``%252e``) is undone by upstreams that decode twice.
_DECODE_ROUNDS = 4
_SEPARATORS = re.compile(r"[/\\]")


def hides_dot_segment(segment: str) -> bool:
    """Whether a raw path segment is, or decodes to something containing, ``.`` or ``..``.

    The segment is decoded up to :data:`_DECODE_ROUNDS` times (one more than any
    upstream is expected to) and split on ``/`` and ``\\`` at every round, so
    ``..%2f``, ``%2e%2e``, ``..%5c`` and ``%252e%252e`` all count. A segment still
    encoded after the last round counts too: it cannot be shown to be harmless.
    """
    if "." not in segment and "%" not in segment:
        return False
    text = segment
    for _ in range(_DECODE_ROUNDS):
        if any(part in (".", "..") for part in _SEPARATORS.split(text)):
            return True
        decoded = unquote(text)
        if decoded == text:
            return False
        text = decoded
    return True


def _credential_in_url(where: str) -> PathError:
    return PathError(
        400,
        f"the {where} carries a platform API key (svcpass_...); the gateway never sends "
        "platform keys upstream and refuses them in URLs, where they end up in logs: send "
        "the key only in the Authorization header",
        error_type="credential_in_url",
    )


def check_segments(segments: list[str]) -> None:
    """Refuse a path whose segments could climb out of the channel's ``base_url`` or
    that carries a platform key.

    Raises:
        PathError: 400 ``bad_path`` naming the segment, or 400 ``credential_in_url``.
    """
    for segment in segments:
        if ("svcpass" in segment or "%" in segment) and contains_key_shape(unquote(segment)):
            raise _credential_in_url("path")
        if hides_dot_segment(segment):
            raise PathError(
                400,
                f"path segment {segment!r} is a dot-segment ('.' or '..', possibly "
                "percent-encoded or behind an encoded slash or backslash); it would leave "
                "the service's base URL, so the gateway refuses it: remove it",
                error_type="bad_path",
            )


@dataclass(frozen=True, slots=True)
class Wrappers:
    """The wrapper stages a request asked for, with their parameters.

    Attributes:
        log: ``l/`` was given.
        log_complete: ``_complete`` was given (full bodies to the object store).
        memoize: ``m/`` was given.
        ttl_seconds: Cache lifetime for ``m/``.
        renew: ``_renew``: skip the cached entry and overwrite it.
        failover: ``_else`` secondaries, tried in order.
        tee: ``_to`` destinations, each sent a copy.
        delay_at: ``d/?_at=``: when to make the call (aware).
        delay_seconds: ``d/?_in=``: how long from now to make the call.
        every_seconds: ``r/?_every=``: make the call this often.
    """

    log: bool = False
    log_complete: bool = False
    memoize: bool = False
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    renew: bool = False
    failover: tuple[str, ...] = ()
    tee: tuple[str, ...] = ()
    delay_at: datetime | None = None
    delay_seconds: int | None = None
    every_seconds: int | None = None

    @property
    def scheduled(self) -> bool:
        """``d/`` or ``r/``: the call is registered as a recurrent request, not made now."""
        return (
            self.delay_at is not None
            or self.delay_seconds is not None
            or self.every_seconds is not None
        )


NO_WRAPPERS = Wrappers()


@dataclass(frozen=True, slots=True)
class GatewayPath:
    """A parsed gateway path.

    Attributes:
        wrappers: The wrapper stages requested.
        kind: What the address names.
        name: The decoded name after the prefix (service id, group, alias, code, chain,
            broadcast); empty for ``path`` addresses.
        rest: The raw (still percent-encoded) path after the address, without leading
            slash; for ``path`` addresses the whole address path.
        query: The raw query string to forward upstream (gateway parameters removed).
        target: The address plus sub-path and forwarded query, without wrappers: what
            the request is *for*, independent of how it is wrapped.
    """

    wrappers: Wrappers
    kind: AddressKind
    name: str
    rest: str
    query: str = ""
    target: str = field(default="")


def parse_ttl(value: str) -> int:
    """Seconds in a cache TTL such as ``60s``, ``5m``, ``1h`` or ``1d``.

    Raises:
        PathError: Malformed, zero, or longer than seven days (400).
    """
    match = _TTL.match(value)
    seconds = int(match.group(1)) * _TTL_UNITS[match.group(2)] if match else 0
    if seconds <= 0:
        raise PathError(
            400,
            f"_ttl={value!r} is not a duration: use a positive number followed by "
            "s, m, h or d (e.g. 60s, 5m, 1h, 1d)",
        )
    if seconds > MAX_TTL_SECONDS:
        raise PathError(400, f"_ttl={value!r} exceeds the maximum cache lifetime of 7d")
    return seconds


def parse_duration(value: str, param: str, *, minimum: int) -> int:
    """Seconds in a ``_in`` / ``_every`` duration such as ``30s``, ``5m``, ``1h`` or ``1d``.

    Raises:
        PathError: Malformed, below ``minimum`` seconds or above a year (400).
    """
    match = _TTL.match(value)
    if match is None:
        raise PathError(
            400,
            f"{param}={value!r} is not a duration: use a whole number followed by "
            "s, m, h or d (e.g. 30s, 5m, 1h, 1d)",
        )
    seconds = int(match.group(1)) * _TTL_UNITS[match.group(2)]
    if not minimum <= seconds <= MAX_SCHEDULE_SECONDS:
        raise PathError(
            400,
            f"{param}={value!r} must be between {minimum}s and {MAX_SCHEDULE_SECONDS // 86400}d",
        )
    return seconds


def parse_instant(value: str) -> datetime:
    """An ``_at`` time: ISO-8601, read as UTC when it has no offset.

    Raises:
        PathError: Not an ISO-8601 date-time (400).
    """
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PathError(
            400, f"_at={value!r} is not an ISO-8601 time (e.g. 2026-05-01T09:30:00Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def secondary_path(value: str, param: str) -> str:
    """Validate an ``_else``/``_to`` value: a gateway-relative path.

    Raises:
        PathError: Empty, or an external URL (400).
    """
    path = value.strip()
    if "://" in path or path.startswith("//"):
        raise PathError(
            400,
            f"{param}={path!r} is an external URL; secondaries must be gateway-relative "
            "paths such as 'p/<service-id>' or 'g/<group>' (wrap external destinations "
            "in a relay listing)",
        )
    path = path.lstrip("/")
    if not path:
        raise PathError(400, f"{param} is empty; give a gateway-relative path")
    check_segments(path.partition("?")[0].split("/"))
    return path


def _split_query(raw_query: bytes) -> tuple[dict[str, list[str]], list[bytes]]:
    """Separate gateway parameters (decoded) from the rest (kept raw)."""
    gateway: dict[str, list[str]] = {}
    forwarded: list[bytes] = []
    if not raw_query:
        return gateway, forwarded
    for piece in _SPLIT.split(raw_query):
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition(b"=")
        name = unquote_plus(raw_name.decode("latin-1"))
        if name in GATEWAY_PARAMS:
            gateway.setdefault(name, []).append(unquote_plus(raw_value.decode("latin-1")))
        else:
            if contains_key_shape(unquote_plus(piece.decode("latin-1"))):
                raise _credential_in_url(f"query parameter {name!r}")
            forwarded.append(piece)
    return gateway, forwarded


def _wrappers(letters: list[str], params: dict[str, list[str]]) -> Wrappers:
    present = set(letters)
    for param, letter in (("_complete", "l"), ("_ttl", "m"), ("_renew", "m")):
        if param in params and letter not in present:
            raise PathError(400, f"{param} only applies with the {letter}/ wrapper")
    for param, letter in (("_else", "f"), ("_to", "t")):
        if param in params and letter not in present:
            raise PathError(400, f"{param} only applies with the {letter}/ wrapper")
        if letter in present and not params.get(param):
            raise PathError(400, f"the {letter}/ wrapper needs {param}=<gateway-relative path>")
    for param, letter in (("_at", "d"), ("_in", "d"), ("_every", "r")):
        if param in params and letter not in present:
            raise PathError(400, f"{param} only applies with the {letter}/ wrapper")
    if "d" in present and ("_at" in params) == ("_in" in params):
        raise PathError(
            400, "the d/ wrapper needs exactly one of _at=<ISO-8601 time> or _in=<duration>"
        )
    if "r" in present and not params.get("_every"):
        raise PathError(400, "the r/ wrapper needs _every=<duration> (e.g. 5m)")
    at, delay, every = params.get("_at"), params.get("_in"), params.get("_every")
    ttls = params.get("_ttl", [])
    return Wrappers(
        log="l" in present,
        log_complete="_complete" in params,
        memoize="m" in present,
        ttl_seconds=parse_ttl(ttls[-1]) if ttls else DEFAULT_TTL_SECONDS,
        renew="_renew" in params,
        failover=tuple(secondary_path(v, "_else") for v in params.get("_else", [])),
        tee=tuple(secondary_path(v, "_to") for v in params.get("_to", [])),
        delay_at=parse_instant(at[-1]) if at else None,
        delay_seconds=parse_duration(delay[-1], "_in", minimum=0) if delay else None,
        every_seconds=parse_duration(every[-1], "_every", minimum=1) if every else None,
    )


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID in any of the spellings :class:`uuid.UUID` accepts."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_gateway_path(raw_path: str, raw_query: bytes = b"") -> GatewayPath:
    """Parse a gateway path.

    Args:
        raw_path: The request path as sent (percent-encoded), with or without the leading
            slash, without the query string.
        raw_query: The raw query string (everything after the first ``?``).

    Returns:
        The parsed path.

    Raises:
        PathError: 400 for malformed wrapper parameters, for dot-segments and for a
            platform key in the path or query, 404 for an empty path or a primitive
            without its name.
    """
    segments = raw_path.strip("/").split("/") if raw_path.strip("/") else []
    letters: list[str] = []
    while segments and segments[0] in WRAPPER_PREFIXES:
        letters.append(segments.pop(0))
    params, forwarded = _split_query(raw_query)
    wrappers = _wrappers(letters, params) if letters or params else NO_WRAPPERS
    query = b"&".join(forwarded).decode("latin-1")
    if not segments:
        raise PathError(404, "no target after the gateway wrappers; expected e.g. p/<service-id>")
    check_segments(segments)
    head = segments[0]
    kind = ADDRESS_PREFIXES.get(head)
    # "p/<slug>" is a listing path (e.g. the groq catalog's "/p/groq"), not a service id.
    if kind == "service" and len(segments) > 1 and not is_uuid(unquote(segments[1])):
        kind = None
    if kind is None:
        rest = "/".join(segments)
        name = ""
        kind_out: AddressKind = "path"
    else:
        if len(segments) < 2 or not segments[1]:
            raise PathError(404, f"'{head}/' needs a name after it, e.g. {head}/<name>")
        name = unquote(segments[1])
        rest = "/".join(segments[2:])
        kind_out = kind
    address = "/".join(segments)
    target = f"{address}?{query}" if query else address
    return GatewayPath(wrappers, kind_out, name, rest, query, target)


def unscheduled_path(raw_path: str, raw_query: bytes = b"") -> str:
    """The gateway path a ``d/`` or ``r/`` call registers: without those wrappers and their
    parameters, everything else (other wrappers, the address, forwarded query) kept.

    ``l/d/p/x/chat?_in=5s?_complete=`` -> ``l/p/x/chat?_complete=``.
    """
    segments = raw_path.strip("/").split("/") if raw_path.strip("/") else []
    wrappers: list[str] = []
    while segments and segments[0] in WRAPPER_PREFIXES:
        head = segments.pop(0)
        if head not in SCHEDULE_WRAPPERS:
            wrappers.append(head)
    kept = [
        piece
        for piece in _SPLIT.split(raw_query)
        if piece
        and unquote_plus(piece.partition(b"=")[0].decode("latin-1")) not in _SCHEDULE_PARAMS
    ]
    path = "/".join([*wrappers, *segments])
    return f"{path}?{b'&'.join(kept).decode('latin-1')}" if kept else path

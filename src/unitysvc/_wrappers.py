"""Gateway wrapper paths (``d/``, ``r/``, ``l/``, ``m/``, ``f/``, ``t/``) as data, rendered once.

The official SDK concatenates strings and produces ``m/l/p/abc?_complete=?_ttl=1h``
when wrappers are chained. Here a wrapped target is a base path plus a
:class:`WrapSpec`; chaining merges specs, and :func:`render` emits the prefixes in the
canonical ``d r l m f t`` order with one correctly encoded query string, whatever the
order of the calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from unitysvc.exceptions import OMIT, invalid_argument

_TTL = re.compile(r"^([1-9][0-9]*)([smhd])$")
_TTL_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The gateway caps cached entries at seven days.
MAX_TTL_SECONDS = 7 * 86400


def ttl_seconds(ttl: str) -> int:
    """Parse a cache TTL such as ``60s``, ``5m``, ``1h`` or ``1d``.

    Raises:
        ValidationError: Malformed, or longer than seven days.
    """
    match = _TTL.match(ttl)
    if not match:
        raise invalid_argument(
            "ttl",
            ttl,
            "a duration is a positive number followed by s, m, h or d",
            "e.g. '60s', '5m', '1h', '1d'",
        )
    seconds = int(match.group(1)) * _TTL_SECONDS[match.group(2)]
    if seconds > MAX_TTL_SECONDS:
        raise invalid_argument("ttl", ttl, "the gateway keeps entries at most 7d")
    return seconds


#: Longest ``_in`` delay and ``_every`` interval the gateway accepts (366 days).
MAX_SCHEDULE_SECONDS = 366 * 86400


def schedule_seconds(value: str, field: str, *, minimum: int) -> int:
    """Parse a ``_in`` / ``_every`` duration (``30s``, ``5m``, ``1h``, ``1d``).

    Raises:
        ValidationError: Malformed, or outside ``minimum`` seconds .. 366 days.
    """
    match = re.match(r"^([0-9]+)([smhd])$", value) if isinstance(value, str) else None
    if not match:
        raise invalid_argument(
            field,
            value,
            "a duration is a whole number followed by s, m, h or d",
            "e.g. '30s', '5m', '1h', '1d'",
        )
    seconds = int(match.group(1)) * _TTL_SECONDS[match.group(2)]
    if not minimum <= seconds <= MAX_SCHEDULE_SECONDS:
        raise invalid_argument(field, value, f"must be between {minimum}s and 366d")
    return seconds


def instant(value: str | datetime) -> str:
    """An ``_at`` time as sent: ISO-8601, UTC when no offset is given.

    Raises:
        ValidationError: Not a datetime nor an ISO-8601 date-time string.
    """
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None:
        raise invalid_argument(
            "at", value, "an ISO-8601 date-time", "e.g. '2026-05-01T09:30:00Z' or a datetime"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def gateway_relative(target: object, *, what: str) -> str:
    """The gateway-relative path of a target (a path string or anything with ``.path``).

    Raises:
        ValidationError: The target is an external URL; the gateway only forwards to
            its own paths (wrap an external destination in a relay listing instead).
    """
    path = target if isinstance(target, str) else getattr(target, "path", None)
    if not isinstance(path, str) or not path.strip("/"):
        raise invalid_argument(
            what, target, "must be a gateway path or a service/group/wrapped target"
        )
    if "://" in path or path.startswith("//"):
        raise invalid_argument(
            what,
            path,
            "an external URL; secondaries are gateway-relative paths",
            "e.g. 'p/<service-id>' or 'g/<group>'",
        )
    return path.lstrip("/")


@dataclass(frozen=True, slots=True)
class Secondary:
    """A failover or tee destination.

    Attributes:
        path: Gateway-relative path, possibly wrapped (``m/p/b?_ttl=5m``).
        follows_sub_path: The destination was given as a target object (service,
            group, wrapped target), so the sub-path of each dispatch applies to it
            too: ``svc.with_failover(llm).dispatch(path="chat/completions")`` fails
            over to ``g/llm/chat/completions``. A path string is used as written.
    """

    path: str
    follows_sub_path: bool = False

    def render(self, sub_path: str) -> str:
        """The destination path for a dispatch with ``sub_path``."""
        if not (self.follows_sub_path and sub_path):
            return self.path
        path, mark, query = self.path.partition("?")
        return f"{path.rstrip('/')}/{sub_path.lstrip('/')}{mark}{query}"


@dataclass(frozen=True, slots=True)
class WrapSpec:
    """The wrappers applied to a target.

    Attributes:
        delay_at: ``d/?_at=``: make the call at this time (ISO-8601, UTC).
        delay_in: ``d/?_in=``: make the call after this duration.
        every: ``r/?_every=``: make the call this often.
        log: ``None`` (off), ``"preview"`` (``l/``) or ``"complete"`` (``l/?_complete``).
        cache_ttl: ``m/`` TTL such as ``"1h"``; ``""`` means the gateway default.
        cache_renew: Force a fresh call and overwrite the cached entry.
        failover: Secondaries tried in order when the primary fails (``f/?_else=``).
        tee: Fire-and-forget copies (``t/?_to=``).
    """

    delay_at: str | None = None
    delay_in: str | None = None
    every: str | None = None
    log: str | None = None
    cache_ttl: str | None = None
    cache_renew: bool = False
    failover: tuple[Secondary, ...] = field(default=())
    tee: tuple[Secondary, ...] = field(default=())

    def with_delay(self, at: str | datetime | None, in_: str | None) -> WrapSpec:
        """Add ``d/`` with exactly one of ``at`` and ``in_`` (a later call replaces it).

        Raises:
            ValidationError: Neither or both given, or either malformed.
        """
        if (at is None) == (in_ is None):
            raise invalid_argument(
                "at",
                OMIT,
                "delayed() needs exactly one of at= (a time) and in_= (a duration)",
                "e.g. delayed(in_='5m') or delayed(at='2026-05-01T09:30:00Z')",
            )
        if in_ is not None:
            schedule_seconds(in_, "in_", minimum=0)
            return replace(self, delay_at=None, delay_in=in_)
        assert at is not None
        return replace(self, delay_at=instant(at), delay_in=None)

    def with_every(self, every: str) -> WrapSpec:
        """Add ``r/`` (a later call replaces the interval).

        Raises:
            ValidationError: ``every`` is malformed, under 1s or over 366d.
        """
        schedule_seconds(every, "every", minimum=1)
        return replace(self, every=every)

    def with_log(self, complete: bool) -> WrapSpec:
        """Add ``l/`` (upgrading to complete if asked either time)."""
        mode = "complete" if complete or self.log == "complete" else "preview"
        return replace(self, log=mode)

    def with_cache(self, ttl: str | None, renew: bool) -> WrapSpec:
        """Add ``m/``; a later TTL replaces an earlier one."""
        if ttl is not None:
            ttl_seconds(ttl)
        new_ttl = ttl if ttl is not None else (self.cache_ttl or "")
        return replace(self, cache_ttl=new_ttl, cache_renew=self.cache_renew or renew)

    def with_failover(self, target: str, *, follows_sub_path: bool = False) -> WrapSpec:
        """Add a failover secondary (see :class:`Secondary`)."""
        return replace(self, failover=(*self.failover, Secondary(target, follows_sub_path)))

    def with_tee(self, target: str, *, follows_sub_path: bool = False) -> WrapSpec:
        """Add a tee destination (see :class:`Secondary`)."""
        return replace(self, tee=(*self.tee, Secondary(target, follows_sub_path)))


def _schedule_wrappers(spec: WrapSpec) -> tuple[list[str], list[tuple[str, str]]]:
    """The ``d/`` and ``r/`` prefixes of ``spec`` and their query parameters."""
    prefixes: list[str] = []
    query: list[tuple[str, str]] = []
    if spec.delay_at is not None or spec.delay_in is not None:
        prefixes.append("d")
        if spec.delay_at is not None:
            query.append(("_at", spec.delay_at))
        if spec.delay_in is not None:
            query.append(("_in", spec.delay_in))
    if spec.every is not None:
        prefixes.append("r")
        query.append(("_every", spec.every))
    return prefixes, query


def render(base: str, spec: WrapSpec, sub_path: str = "") -> str:
    """Render ``base`` (+ ``sub_path``) wrapped by ``spec`` as one gateway path.

    Args:
        base: Gateway-relative target, e.g. ``p/<id>`` or ``g/llm``.
        spec: The wrappers.
        sub_path: Appended after the base, before the query string.

    Returns:
        E.g. ``l/m/f/p/abc/chat?_complete=&_ttl=1h&_else=p%2Fdef``.
    """
    path, _, existing_query = base.strip("/").partition("?")
    if sub_path:
        path = f"{path.rstrip('/')}/{sub_path.lstrip('/')}"
    prefixes, query = _schedule_wrappers(spec)
    if spec.log:
        prefixes.append("l")
        if spec.log == "complete":
            query.append(("_complete", ""))
    if spec.cache_ttl is not None:
        prefixes.append("m")
        if spec.cache_ttl:
            query.append(("_ttl", spec.cache_ttl))
        if spec.cache_renew:
            query.append(("_renew", ""))
    for secondary in spec.failover:
        prefixes.append("f")
        query.append(("_else", secondary.render(sub_path)))
    for destination in spec.tee:
        prefixes.append("t")
        query.append(("_to", destination.render(sub_path)))
    rendered = "/".join([*prefixes, path])
    encoded = urlencode(query, quote_via=quote, safe="")
    full_query = "&".join(q for q in (existing_query, encoded) if q)
    return f"{rendered}?{full_query}" if full_query else rendered

"""Gateway wrapper paths (``l/``, ``m/``, ``f/``, ``t/``) as data, rendered once.

The official SDK concatenates strings and produces ``m/l/p/abc?_complete=?_ttl=1h``
when wrappers are chained. Here a wrapped target is a base path plus a
:class:`WrapSpec`; chaining merges specs, and :func:`render` emits the prefixes in the
canonical ``l m f t`` order with one correctly encoded query string, whatever the
order of the calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlencode

from unitysvc.exceptions import invalid_argument

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
        log: ``None`` (off), ``"preview"`` (``l/``) or ``"complete"`` (``l/?_complete``).
        cache_ttl: ``m/`` TTL such as ``"1h"``; ``""`` means the gateway default.
        cache_renew: Force a fresh call and overwrite the cached entry.
        failover: Secondaries tried in order when the primary fails (``f/?_else=``).
        tee: Fire-and-forget copies (``t/?_to=``).
    """

    log: str | None = None
    cache_ttl: str | None = None
    cache_renew: bool = False
    failover: tuple[Secondary, ...] = field(default=())
    tee: tuple[Secondary, ...] = field(default=())

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
    prefixes: list[str] = []
    query: list[tuple[str, str]] = []
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

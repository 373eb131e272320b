"""Validation shared by a customer's routing objects (chains, broadcasts, collections, aliases)."""

from __future__ import annotations

import re

from unitysvc_server.domain.errors import Unprocessable

__all__ = [
    "MAX_TIMEOUT_MS",
    "SLUG",
    "STEP_OUTCOMES",
    "Loc",
    "validate_object_name",
    "validate_outcome",
    "validate_sort_order",
    "validate_target_path",
    "validate_timeout_ms",
]

Loc = tuple[str | int, ...]

#: Bounds of a ``sort_order``: the column is a 32-bit integer on PostgreSQL, so a
#: larger value would fail in the driver (a 500) instead of being refused (a 422).
SORT_ORDER_MIN = -(2**31)
SORT_ORDER_MAX = 2**31 - 1
#: Longest per-call timeout a chain step or broadcast target may ask for.
MAX_TIMEOUT_MS = 600_000
#: What a chain does after a step (docs/decisions.md): ``stop`` answers with this
#: step's response, ``relay`` sends the original request to the next step,
#: ``continue`` sends this step's response body to the next step.
STEP_OUTCOMES = frozenset({"stop", "relay", "continue"})

#: Alias and collection names: lowercase slugs (a collection's is also its
#: gateway path ``g/<name>``).
SLUG = re.compile(r"^[a-z0-9_-]{1,100}$")
# One URL path segment (``c/<name>``, ``b/<name>``), so no '/' and no spaces.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def validate_object_name(name: str, loc: Loc) -> str:
    """Return ``name`` if it can be one gateway path segment, else raise a 422 at ``loc``."""
    if not _NAME.fullmatch(name):
        raise Unprocessable(
            loc,
            "must be 1-64 characters: letters, digits, '.', '-' or '_', starting with a "
            "letter or digit",
        )
    return name


def validate_timeout_ms(value: int, loc: Loc) -> int:
    """Return ``value`` if it is a usable timeout in milliseconds, else raise a 422."""
    if not 1 <= value <= MAX_TIMEOUT_MS:
        raise Unprocessable(loc, f"must be between 1 and {MAX_TIMEOUT_MS} milliseconds")
    return value


def validate_sort_order(value: int, loc: Loc) -> int:
    """Return ``value`` if it fits the ``sort_order`` column, else raise a 422 at ``loc``."""
    if not SORT_ORDER_MIN <= value <= SORT_ORDER_MAX:
        raise Unprocessable(loc, f"must be between {SORT_ORDER_MIN} and {SORT_ORDER_MAX}")
    return value


def validate_outcome(value: str, loc: Loc) -> str:
    """Return ``value`` if it is a known chain step outcome, else raise a 422."""
    if value not in STEP_OUTCOMES:
        raise Unprocessable(loc, f"must be one of {', '.join(sorted(STEP_OUTCOMES))}")
    return value


def validate_target_path(target_path: str, loc: Loc = ("body", "target_path")) -> str:
    """Return a gateway-relative target path, else raise a 422 at ``loc``.

    Leading slashes are dropped (``/g/llm`` and ``g/llm`` are the same target).
    Absolute URLs are refused: every target is dispatched through this gateway.
    """
    cleaned = target_path.strip().lstrip("/")
    if not cleaned:
        raise Unprocessable(loc, "must be a gateway-relative path such as 'g/llm'")
    if _URL_SCHEME.match(cleaned) or any(ch.isspace() for ch in cleaned):
        raise Unprocessable(
            loc, "must be a gateway-relative path such as 'g/llm' (no scheme, host or spaces)"
        )
    return cleaned

"""PATCH, one way for every resource: only the fields sent change, null only where allowed.

Each resource declares its patchable fields once, as :class:`PatchField` rules, and
:func:`apply_patch` applies a request body to the stored row by them: a field the body
does not send keeps its value; a field sent as ``null`` clears it when the rule allows
that and is refused (422 naming the field) otherwise; any other value goes through the
field's check (which validates, normalises, or refuses it) and is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from unitysvc_server.domain.errors import Unprocessable

__all__ = ["NULL_REFUSED", "PatchField", "apply_patch"]

#: The answer to ``null`` for a field that cannot be cleared.
NULL_REFUSED = "cannot be null; omit it to keep it"


def _same(value: Any, _loc: tuple[str, ...]) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class PatchField:
    """How one body field is applied to the row.

    Attributes:
        check: Called with a non-null value and its error location (``("body",
            name)``); returns what to store, or raises :class:`Unprocessable`.
        nullable: Whether ``null`` clears the field (stored as ``None``).
        store: Stores the checked value when it is not the one same-named attribute
            (e.g. a value kept in two columns): ``store(row, value)``.
    """

    check: Callable[[Any, tuple[str, ...]], Any] = _same
    nullable: bool = False
    store: Callable[[Any, Any], None] | None = None


def apply_patch(row: object, body: BaseModel, fields: Mapping[str, PatchField]) -> set[str]:
    """Apply the fields ``body`` sends to ``row`` by their rules, in the rules' order.

    Returns:
        The names of the fields applied.

    Raises:
        Unprocessable: A field is sent as ``null`` and cannot be cleared, or its check
            refuses the value.
    """
    sent = body.model_fields_set
    applied: set[str] = set()
    for name, rule in fields.items():
        if name not in sent:
            continue
        value = getattr(body, name)
        loc = ("body", name)
        if value is None:
            if not rule.nullable:
                raise Unprocessable(loc, NULL_REFUSED)
        else:
            value = rule.check(value, loc)
        if rule.store is not None:
            rule.store(row, value)
        else:
            setattr(row, name, value)
        applied.add(name)
    return applied

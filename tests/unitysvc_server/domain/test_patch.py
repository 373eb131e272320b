"""``apply_patch``: the one way every resource applies a PATCH body to its row."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from unitysvc_server.domain.errors import Unprocessable
from unitysvc_server.domain.patch import NULL_REFUSED, PatchField, apply_patch


class Body(BaseModel):
    name: str | None = None
    note: str | None = None
    timeout_ms: int | None = None
    tags: list[str] | None = None


def _positive(value: int, loc: tuple[str, ...]) -> int:
    if value < 1:
        raise Unprocessable(loc, "must be at least 1")
    return value


def _store_tags(row: Any, value: list[str] | None) -> None:
    row.tags = value or None
    row.tag_count = len(value or [])


def _stripped(value: str, _loc: tuple[str, ...]) -> str:
    return value.strip()


RULES = {
    "name": PatchField(_stripped),
    "note": PatchField(nullable=True),
    "timeout_ms": PatchField(_positive),
    "tags": PatchField(nullable=True, store=_store_tags),
}


def _row() -> SimpleNamespace:
    return SimpleNamespace(name="old", note="kept", timeout_ms=10, tags=["a"], tag_count=1)


def test_only_the_fields_sent_change_each_through_its_rule() -> None:
    row = _row()
    applied = apply_patch(row, Body.model_validate({"name": "  new ", "tags": ["x", "y"]}), RULES)
    assert applied == {"name", "tags"}
    assert (row.name, row.note, row.timeout_ms) == ("new", "kept", 10)
    assert (row.tags, row.tag_count) == (["x", "y"], 2)


def test_null_clears_a_nullable_field_and_is_refused_elsewhere_naming_the_field() -> None:
    row = _row()
    apply_patch(row, Body.model_validate({"note": None, "tags": None}), RULES)
    assert (row.note, row.tags, row.tag_count) == (None, None, 0)
    with pytest.raises(Unprocessable) as refused:
        apply_patch(row, Body.model_validate({"timeout_ms": None}), RULES)
    assert refused.value.errors()[0]["loc"] == ["body", "timeout_ms"]
    assert refused.value.errors()[0]["msg"] == NULL_REFUSED
    assert row.timeout_ms == 10


def test_a_check_refuses_a_bad_value_and_leaves_the_row_as_it_was() -> None:
    row = _row()
    with pytest.raises(Unprocessable, match="at least 1"):
        apply_patch(row, Body.model_validate({"timeout_ms": 0}), RULES)
    assert row.timeout_ms == 10

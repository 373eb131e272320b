"""Shared machinery of active records (``Group``, ``Service``, ``Enrollment``) and pages."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel

from unitysvc._ops import Context

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)


def pick_class(ctx: Context, sync_cls: type[Any], async_cls: type[Any]) -> Any:
    """The sync or async flavour of a record class, matching the client."""
    return async_cls if ctx.driver.is_async else sync_cls


class RecordMixin(Generic[R]):
    """Field access forwarded to the wrapped wire model.

    ``svc.name`` reads ``svc.record.name``; the typed model is always available as
    :attr:`record` for code that wants static field checking.
    """

    _record: R

    @property
    def record(self) -> R:
        """The underlying wire model."""
        return self._record

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, i.e. for record fields.
        if name.startswith("__") or name == "_record":
            raise AttributeError(name)
        record = self.__dict__.get("_record")
        if record is None:
            raise AttributeError(name)
        try:
            return getattr(record, name)
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name!r} (record fields: "
                f"{', '.join(type(record).model_fields)})"
            ) from None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordMixin):
            return type(self) is type(other) and self._record == other._record
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self).__name__, getattr(self._record, "id", None)))

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return self._record.model_dump(mode="json")

    @property
    def id(self) -> UUID:
        """The record's id."""
        value: UUID = getattr(self._record, "id")  # noqa: B009 - typed for every record
        return value


class NamedRecordMixin(RecordMixin[R]):
    """A record addressed by a slug ``name`` as well as its id (groups, services)."""

    @property
    def name(self) -> str:
        """The record's name (a group slug, a service's listing name)."""
        value: str = getattr(self._record, "name")  # noqa: B009 - typed for every record
        return value


@dataclass(slots=True)
class Page(Generic[T]):
    """A page of results: iterable, sized, indexable.

    Attributes:
        data: The items of this page.
        count: The server's count (the page size or the total, per endpoint).
        next_cursor: Cursor of the next page, for cursor-paginated lists.
        has_more: Whether another page exists, for cursor-paginated lists.
    """

    data: builtins.list[T]
    count: int = 0
    next_cursor: str | None = None
    has_more: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> T:
        return self.data[index]

    def __bool__(self) -> bool:
        return bool(self.data)

"""The base classes of every wire model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class WireModel(BaseModel):
    """Base of all request and response models of the UnitySVC API.

    Unknown fields from a newer server are kept (``extra="allow"``) rather than
    rejected, so an older SDK keeps working against a newer platform. Schemas are
    built on first use (``defer_build``) to keep ``import unitysvc`` fast.
    """

    model_config = ConfigDict(extra="allow", defer_build=True, populate_by_name=True)


if TYPE_CHECKING:

    class ListEnvelope(WireModel, Generic[T]):
        """A ``{data, ...}`` list envelope: iterable, sized and indexable over ``data``."""

        data: list[T]

        def __iter__(self) -> Iterator[T]: ...  # type: ignore[override]
        def __len__(self) -> int: ...
        def __getitem__(self, index: int) -> T: ...

else:

    class ListEnvelope(WireModel):
        """A ``{data, ...}`` list envelope: iterable, sized and indexable over ``data``.

        ``for secret in client.secrets.list()`` walks the rows; ``len(page)`` is the
        number of rows on this page (``count`` is the server's total). Iterating
        replaces pydantic's field iteration, so use ``model_dump()`` for a dict.
        At run time the class is not a pydantic generic (``ListEnvelope[X]`` is the
        class itself): parametrising would build a class per envelope at import.
        """

        def __class_getitem__(cls, item: Any) -> Any:
            return cls

        def __iter__(self) -> Iterator[Any]:
            return iter(self.data)

        def __len__(self) -> int:
            return len(self.data)

        def __getitem__(self, index: int) -> Any:
            return self.data[index]

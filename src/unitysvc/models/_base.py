"""The base classes of every wire model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from pydantic import (
    BaseModel,
    ConfigDict,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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


class NumberMap(WireModel):
    """Named numbers (``usage_metrics``): typed attributes and mapping access.

    The names the contract lists are attributes (``metrics.input_tokens``, None when
    absent); any other name a server sends is kept as a number. Every name present is
    also reachable as ``metrics["bytes_in"]``, ``"bytes_in" in metrics``,
    ``metrics.get(...)`` and ``metrics.items()``. Absent names are left out of the JSON,
    as the server left them out, so a round trip gives back the same object.
    """

    __pydantic_extra__: dict[str, float]

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The serialized form has the model's schema (its named numbers), not the
        # plain dict the serializer below returns; the serializer only drops absent names.
        plain = cast("CoreSchema", {k: v for k, v in core_schema.items() if k != "serialization"})
        return handler(plain)

    @model_serializer(mode="wrap")
    def _present_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {name: value for name, value in data.items() if value is not None}

    def to_dict(self) -> dict[str, float]:
        """The names present, with their values."""
        return {name: float(value) for name, value in self.model_dump().items()}

    def items(self) -> list[tuple[str, float]]:
        """``(name, value)`` of every name present."""
        return list(self.to_dict().items())

    def keys(self) -> list[str]:
        """The names present."""
        return list(self.to_dict())

    @overload
    def get(self, name: str) -> float | None: ...
    @overload
    def get(self, name: str, default: float) -> float: ...
    def get(self, name: str, default: float | None = None) -> float | None:
        """The value of ``name``, or ``default`` when it is absent."""
        return self.to_dict().get(name, default)

    def __getitem__(self, name: str) -> float:
        try:
            return self.to_dict()[name]
        except KeyError:
            raise KeyError(f"{name!r} (present: {', '.join(self.keys()) or 'none'})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.to_dict()

"""Make the shared wire models usable as FastAPI request bodies.

The SDK builds its models lazily (``defer_build=True``) to keep
``import unitysvc`` fast. FastAPI wraps a body parameter as
``Annotated[Model, Field(alias=...)]``; for a deferred model pydantic then
emits ``UnsupportedFieldAttributeWarning`` on every app start and first
request. The server builds the schemas eagerly instead -- once per process,
which costs a fraction of a second at start-up and nothing per request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from unitysvc import models
from unitysvc.models._base import WireModel

_lock = threading.Lock()
_done = False


def _subclasses(cls: type[WireModel]) -> Iterator[type[WireModel]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def build_wire_models() -> None:
    """Build every wire model's schema now (idempotent, thread-safe)."""
    global _done
    with _lock:
        if _done:
            return
        for name in models.__all__:
            getattr(models, name)  # imports every resource's module, defining its models
        for model in set(_subclasses(WireModel)):
            model.model_config["defer_build"] = False
            model.model_rebuild(force=True)
        _done = True

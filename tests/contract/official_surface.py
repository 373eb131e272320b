"""Print the public surface of an official ``unitysvc-py`` release as one JSON object.

Run as ``python official_surface.py`` with ``PYTHONPATH`` set to the release's install
directory (``OFFICIAL_SDK_DIR``, version in ``OFFICIAL_SDK_VERSION``); see
``test_official_surface.py``. Nothing here is a list kept by hand: the surface is read
from the release by introspection.

* every public attribute of ``Client`` and ``AsyncClient``;
* for each resource property (``client.services`` ...), the public methods of the
  resource object a client gives;
* the classes those methods return that the release defines next to them (records
  such as ``Service``, ``Chain``, pages such as ``ChainListPage``), one level deeper
  for what records return, with their public methods and dataclass fields;
* the wrapped target of the gateway wrappers (``_wrappers.WrappedTarget``).

pytest never imports this module: it imports the official ``unitysvc``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import sys
from types import ModuleType
from typing import Any

from scenarios import official

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def public_members(cls: type) -> dict[str, str]:
    """Public names of ``cls``: ``method``, ``property`` or ``field`` (dataclass)."""
    found: dict[str, str] = {}
    for name, value in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            found[name] = "property"
        elif callable(value):
            found[name] = "method"
    if dataclasses.is_dataclass(cls):
        for field in dataclasses.fields(cls):
            if not field.name.startswith("_"):
                found[field.name] = "field"
    return found


def returned_classes(cls: type) -> set[type]:
    """Classes named in the return annotations of ``cls``'s methods, defined in its module."""
    module = sys.modules[cls.__module__]
    found: set[type] = set()
    for name, method in inspect.getmembers(cls, callable):
        if name.startswith("_"):
            continue
        try:
            annotation = inspect.signature(method).return_annotation
        except (TypeError, ValueError):
            continue
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        for word in _NAME.findall(text):
            candidate = getattr(module, word, None)
            if inspect.isclass(candidate) and candidate.__module__ == module.__name__:
                found.add(candidate)
    return found


def client_surface(client_cls: type) -> dict[str, Any]:
    client = client_cls(api_key="svcpass_surface", base_url="http://127.0.0.1:9/v1")
    resources: dict[str, Any] = {}
    for name, kind in public_members(client_cls).items():
        if kind != "property":
            continue
        resource = getattr(client, name)
        if type(resource).__module__.split(".")[0] != "unitysvc":
            continue  # a plain value (api_base_url ...)
        records: dict[str, dict[str, str]] = {}
        todo = list(returned_classes(type(resource)))
        seen: set[type] = set()
        while todo:
            cls = todo.pop()
            if cls in seen:
                continue
            seen.add(cls)
            records[cls.__name__] = public_members(cls)
            todo.extend(returned_classes(cls))
        resources[name] = {
            "class": type(resource).__name__,
            "methods": public_members(type(resource)),
            "records": records,
        }
    return {"members": public_members(client_cls), "resources": resources}


def surface(unitysvc: ModuleType) -> dict[str, Any]:
    import importlib

    client_module = importlib.import_module("unitysvc.client")
    async_module = importlib.import_module("unitysvc.aclient")
    wrappers = importlib.import_module("unitysvc._wrappers")
    return {
        "version": unitysvc.__version__ if hasattr(unitysvc, "__version__") else "",
        "Client": client_surface(client_module.Client),
        "AsyncClient": client_surface(async_module.AsyncClient),
        "WrappedTarget": public_members(wrappers.WrappedTarget),
    }


if __name__ == "__main__":
    print(json.dumps(surface(official()), sort_keys=True))

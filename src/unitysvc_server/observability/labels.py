"""Bounded label values shared by metrics and traces.

Labels name a route *kind* (the gateway path grammar's address letter, or ``v1`` for the
control plane), a status class and a service: never a raw path, a customer or a key, so
the number of series stays bounded by the catalog's size.
"""

from __future__ import annotations

from unitysvc_server.routing.paths import ADDRESS_PREFIXES, WRAPPER_PREFIXES, AddressKind

#: The route label of each parsed address kind (the grammar's own letters).
ROUTE_OF_KIND: dict[AddressKind, str] = {
    **{kind: letter for letter, kind in ADDRESS_PREFIXES.items()},
    "path": "path",
}
#: The route label of control-plane requests (``/v1``, ``/healthz``, the docs).
API_ROUTE = "v1"
#: Every route label a series can carry.
ROUTES = (*sorted(ADDRESS_PREFIXES), "path", API_ROUTE)

_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def status_class(status: int) -> str:
    """``2xx``, ``4xx``... of an HTTP status (``499``, a caller hanging up, is ``4xx``)."""
    index = status // 100 - 1
    return _STATUS_CLASSES[index] if 0 <= index < len(_STATUS_CLASSES) else "other"


def guess_route(raw_path: str) -> str:
    """The route label of a gateway path that was refused before it was parsed.

    Wrapper letters are skipped; the first segment after them names the address kind
    (``p``, ``g``, ``a``...), anything else is a listing ``path``. Unlike the parser this
    does not check that ``p/<id>`` is a UUID: a refused request needs only a label.
    """
    for segment in raw_path.strip("/").split("/"):
        if segment in WRAPPER_PREFIXES:
            continue
        return segment if segment in ADDRESS_PREFIXES else "path"
    return "path"

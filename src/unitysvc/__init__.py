"""unitysvc — Python SDK, CLI and self-hostable platform for the UnitySVC marketplace.

Quick start::

    import unitysvc

    with unitysvc.Client("svcpass_…") as client:
        llm = client.groups.get("llm")
        response = llm.dispatch(path="chat/completions", json={"messages": [...]})

The resources (``client.groups``, ``client.services``, ``client.secrets``, ...) and
their pydantic models are imported on first use, so ``import unitysvc`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unitysvc._constants import DEFAULT_API_URL
from unitysvc._version import __version__
from unitysvc.exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnitysvcSDKError,
    ValidationError,
)

if TYPE_CHECKING:
    from unitysvc._client import AsyncClient, Client
    from unitysvc._core import NOT_GIVEN, NotGiven, RequestExtras, RequestOptions
    from unitysvc._streaming import AsyncStreamingResponse, StreamEvent, StreamingResponse

__all__ = [
    "DEFAULT_API_URL",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncStreamingResponse",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestExtras",
    "RequestOptions",
    "ServerError",
    "StreamEvent",
    "StreamingResponse",
    "UnitysvcSDKError",
    "ValidationError",
    "__version__",
]

# Imported on first use: the client brings httpx (and httpx its CLI's rich, click and
# pygments), which a process that only needs the wire models -- the server -- never uses.
_LAZY = {
    "Client": "unitysvc._client",
    "AsyncClient": "unitysvc._client",
    "NOT_GIVEN": "unitysvc._core",
    "NotGiven": "unitysvc._core",
    "RequestExtras": "unitysvc._core",
    "RequestOptions": "unitysvc._core",
    "StreamEvent": "unitysvc._streaming",
    "StreamingResponse": "unitysvc._streaming",
    "AsyncStreamingResponse": "unitysvc._streaming",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'unitysvc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

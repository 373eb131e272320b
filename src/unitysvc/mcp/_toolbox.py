"""What the tool modules share: the SDK client, the output rules and the size limits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unitysvc.mcp._results import Output

if TYPE_CHECKING:
    from unitysvc import AsyncClient

__all__ = [
    "BODY_CHARS",
    "BODY_CHARS_MAX",
    "DOCUMENT_CHARS",
    "LOG_BODY_CHARS",
    "RESOURCE_CHARS",
    "Toolbox",
    "clip",
    "clip_json",
    "document_uri",
    "drop_none",
]

#: Default size of a dispatched response's body in a tool result, in characters:
#: about 4,000 tokens, enough for any chat completion or a page of JSON, small
#: enough not to flood an agent's context. An agent may ask for more per call.
BODY_CHARS = 16_000
#: The most an agent may ask for per call.
BODY_CHARS_MAX = 200_000
#: Each document's content in ``read_service_documents`` (code examples are short;
#: a long API reference is cut, and readable whole as a resource).
DOCUMENT_CHARS = 12_000
#: A document read as a resource: the whole document, up to this size.
RESOURCE_CHARS = 500_000
#: Each stored body (request, response) of a request log in ``get_request_log``.
LOG_BODY_CHARS = 8_000

#: The URI scheme of this server's resources.
SCHEME = "unitysvc"


def document_uri(service_id: object, document_id: object) -> str:
    """The resource URI of one service document."""
    return f"{SCHEME}://services/{service_id}/documents/{document_id}"


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True


@dataclass(frozen=True, slots=True)
class Toolbox:
    """The per-server state every tool uses.

    Attributes:
        client: The SDK client the tools call (one per server process).
        out: Builds results and errors, the API key scrubbed out.
    """

    client: AsyncClient
    out: Output

    @property
    def has_key(self) -> bool:
        """Whether the server acts for a customer (else only the catalog is readable)."""
        return self.client.api_key is not None


def drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` without its None values (shorter answers for the agent)."""
    return {key: value for key, value in mapping.items() if value is not None}


def clip_json(value: Any, limit: int) -> tuple[Any, bool]:
    """A JSON value kept whole when its text fits ``limit``, else its text cut there.

    An agent reads a cut JSON document as text; a parsed but partial structure would
    look complete when it is not.

    Returns:
        The value (or its cut JSON text), and whether it was cut.
    """
    if value is None or isinstance(value, bool | int | float):
        return value, False
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return value, False
    return text[:limit], True

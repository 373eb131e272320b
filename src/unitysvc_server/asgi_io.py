"""Request bodies and credentials read off raw ASGI messages.

The control-plane middleware and the gateway both read whole bodies and bearer
tokens before any framework sees the request; they share these so the two doors
apply one size rule and one credential rule.
"""

from __future__ import annotations

from starlette.types import Receive

__all__ = ["BodyTooLarge", "ClientDisconnected", "parse_bearer", "read_body"]


class BodyTooLarge(Exception):
    """The request body is larger than the limit."""


class ClientDisconnected(Exception):
    """The client went away before the whole body arrived."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body.

    Raises:
        BodyTooLarge: More than ``limit`` bytes arrived.
        ClientDisconnected: The client disconnected first.
    """
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            parts.append(chunk)
        if not message.get("more_body", False):
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def parse_bearer(value: str) -> str:
    """The token of an ``Authorization`` value ``Bearer <token>``; ``""`` when malformed."""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return ""
    return token

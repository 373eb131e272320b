"""Request bodies and credentials read off raw ASGI messages.

The control-plane middleware and the gateway both read whole bodies and bearer
tokens before any framework sees the request; they share these so the two doors
apply one size rule, one JSON depth rule and one credential rule.
"""

from __future__ import annotations

import re

from starlette.types import Receive

__all__ = [
    "MAX_JSON_DEPTH",
    "BodyTooLarge",
    "ClientDisconnected",
    "json_depth_exceeds",
    "json_too_deep_message",
    "parse_bearer",
    "read_body",
]

#: Deepest nesting of arrays and objects a JSON request body may have. Python's parser
#: recurses once per level and fails with ``RecursionError`` near 1,000 (less inside a
#: deep call stack); real request bodies (chat messages, tool schemas) stay far below.
MAX_JSON_DEPTH = 128

_JSON_START = re.compile(rb"[ \t\n\r\x0b\x0c]*[\[{]")
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# Escapes are removed first, so a string is a quote, non-quotes, a quote: linear to match.
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_OPENERS = (ord("["), ord("{"))


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


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` looks like JSON and nests arrays/objects deeper than ``limit``.

    Only bodies whose first non-blank byte opens an array or object are judged (what
    the gateway parses). A body with at most ``limit`` opening brackets cannot be too
    deep, so the usual answer costs two ``bytes.count`` calls; otherwise strings are cut
    out (escapes first) and the brackets that remain are counted. Unclosed brackets count
    too: the parser recurses into them before it finds the document malformed.
    """
    if not _JSON_START.match(body) or body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", body)).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif depth:
            depth -= 1
    return False


def json_too_deep_message(limit: int = MAX_JSON_DEPTH) -> str:
    """The 400 message for a JSON body nested deeper than ``limit``."""
    return (
        f"JSON body nests arrays/objects more than {limit} levels deep; "
        "flatten the document (deeper bodies are refused)"
    )

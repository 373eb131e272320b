"""Account files: per-customer folders in the object store, reached through signed URLs.

The API never moves file bytes itself. ``/files/download`` and ``/files/upload``
mint short-lived HMAC-signed tickets (like S3 presigned URLs) for the server's
own ``/v1/files/object`` endpoint, which then streams the file out or takes a
multipart POST in, with no API credentials. A ticket names the customer, scope,
key, operation, expiry and (for uploads) the byte limit; nothing in it can be
changed without breaking the signature.

Keys are relative to the scope root (``reports/q1.pdf``) and are stored under
``files/<customer_id>/<scope>/`` in the object store. Only the ``personal``
scope is served (``shared_enabled`` is false: there are no team plans here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio

from unitysvc.models import (
    AccountFileObject,
    AccountFilesListResponse,
    AccountFileUploadRequest,
)
from unitysvc_server.domain.errors import Forbidden, NotFound, Unprocessable
from unitysvc_server.storage.objects import (
    InvalidKey,
    KeyConflict,
    ObjectNotFound,
    ObjectStore,
    ObjectWriter,
    validate_key,
)

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "MAX_UPLOAD_BYTES",
    "FileConflict",
    "FileMissing",
    "Scope",
    "Ticket",
    "TicketError",
    "Upload",
    "download_path",
    "download_ticket",
    "list_files",
    "open_upload",
    "signing_key",
    "storage_key",
    "upload_ticket",
    "verify_ticket",
]

Scope = Literal["personal", "shared"]
Operation = Literal["get", "put"]

#: Largest file one upload may carry.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: Lifetime of an upload ticket, in seconds.
DEFAULT_EXPIRES_IN = 900
_SHARED_DISABLED = "shared files need a team plan; this platform has none (shared_enabled=false)"


class TicketError(Exception):
    """A signed ticket is malformed, forged or expired (answered with 403)."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """The verified content of a signed ticket."""

    customer_id: uuid.UUID
    scope: Scope
    key: str
    operation: Operation
    expires_at: int
    max_bytes: int | None = None

    @property
    def storage_key(self) -> str:
        """Where the ticket's object lives in the object store."""
        return storage_key(self.customer_id, self.scope, self.key)


def signing_key(secret: str | bytes) -> bytes:
    """The HMAC key for file tickets, derived from the platform secret."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"unitysvc-files-ticket-v1", hashlib.sha256).digest()


def customer_root(customer_id: uuid.UUID) -> str:
    """The object-store prefix of every file of a customer."""
    return f"files/{customer_id}"


def storage_key(customer_id: uuid.UUID, scope: Scope, key: str) -> str:
    """The object-store key of a customer's file (``key`` relative to the scope root)."""
    root = f"{customer_root(customer_id)}/{scope}"
    return f"{root}/{key}" if key else root


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _sign(payload: dict[str, Any], key: bytes) -> tuple[str, str]:
    body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return body, signature


def verify_ticket(
    policy: str, signature: str, key: bytes, operation: Operation, *, now: float | None = None
) -> Ticket:
    """Check a ticket's signature, operation and expiry and return its content.

    Raises:
        TicketError: The ticket is malformed, forged, for another operation, or expired.
    """
    expected = _b64(hmac.new(key, policy.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        raise TicketError("the signature does not match")
    try:
        payload = json.loads(_unb64(policy))
        ticket = Ticket(
            customer_id=uuid.UUID(payload["c"]),
            scope=payload["s"],
            key=payload["k"],
            operation=payload["o"],
            expires_at=int(payload["e"]),
            max_bytes=payload.get("m"),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise TicketError("the ticket is malformed") from exc
    if ticket.operation != operation:
        raise TicketError(f"the ticket is not valid for {operation}")
    if ticket.expires_at < (time.time() if now is None else now):
        raise TicketError("the ticket has expired; request a new URL")
    return ticket


def _mint(ticket: Ticket, key: bytes) -> tuple[str, str]:
    payload: dict[str, Any] = {
        "c": str(ticket.customer_id),
        "s": ticket.scope,
        "k": ticket.key,
        "o": ticket.operation,
        "e": ticket.expires_at,
    }
    if ticket.max_bytes is not None:
        payload["m"] = ticket.max_bytes
    return _sign(payload, key)


# -- validation -----------------------------------------------------------------


def _folder(path: str | None, loc: tuple[str, ...]) -> str:
    folder = (path or "").strip("/")
    if folder:
        try:
            validate_key(folder)
        except InvalidKey as exc:
            raise Unprocessable(loc, f"{exc}; use a folder such as 'reports/2026'") from None
    return folder


def _relative_key(key: str, loc: tuple[str, ...]) -> str:
    cleaned = key.lstrip("/")
    try:
        return validate_key(cleaned)
    except InvalidKey as exc:
        raise Unprocessable(loc, f"{exc}; use a relative key such as 'reports/q1.pdf'") from None


def _require_personal(scope: Scope) -> None:
    if scope != "personal":
        raise Forbidden(_SHARED_DISABLED)


# -- operations -------------------------------------------------------------------


_TOKEN_PREFIX = "after:"


def _encode_token(last_name: str) -> str:
    return _b64((_TOKEN_PREFIX + last_name).encode())


def _decode_token(token: str) -> str:
    try:
        decoded = _unb64(token).decode()
        if not decoded.startswith(_TOKEN_PREFIX):
            raise ValueError("not a listing token")
        return decoded.removeprefix(_TOKEN_PREFIX)
    except (ValueError, binascii.Error):
        raise Unprocessable(
            ("query", "continuation_token"),
            "is not a token returned by a previous listing; omit it to start over",
        ) from None


async def list_files(
    store: ObjectStore,
    customer_id: uuid.UUID,
    *,
    scope: Scope,
    path: str,
    max_keys: int,
    continuation_token: str | None,
) -> AccountFilesListResponse:
    """One folder level of the customer's files, S3-style paged.

    Objects and sub-folders (``common_prefixes``, ending in ``/``) share one
    lexicographic order and the ``max_keys`` budget. A missing folder, and the
    disabled ``shared`` scope, list as empty.

    Raises:
        Unprocessable: ``path`` or ``continuation_token`` is invalid.
    """
    folder = _folder(path, ("query", "path"))
    start_after = _decode_token(continuation_token) if continuation_token else None
    if scope != "personal":
        return AccountFilesListResponse(
            scope=scope,
            path=folder,
            objects=[],
            common_prefixes=[],
            is_truncated=False,
            next_continuation_token=None,
            shared_enabled=False,
        )
    page = await anyio.to_thread.run_sync(
        lambda: store.list_level(
            storage_key(customer_id, scope, folder), start_after=start_after, max_keys=max_keys
        )
    )
    base = f"{folder}/" if folder else ""
    return AccountFilesListResponse(
        scope=scope,
        path=folder,
        objects=[
            AccountFileObject(
                key=base + item.key,
                size=item.size,
                last_modified=item.last_modified.isoformat(),
            )
            for item in page.objects
        ],
        common_prefixes=[base + prefix for prefix in page.common_prefixes],
        is_truncated=page.is_truncated,
        next_continuation_token=(
            _encode_token(page.last_name) if page.is_truncated and page.last_name else None
        ),
        shared_enabled=False,
    )


async def download_ticket(
    store: ObjectStore,
    customer_id: uuid.UUID,
    *,
    scope: Scope,
    key: str,
    expires_in: int,
    signing: bytes,
) -> tuple[str, str, str]:
    """Mint a download ticket for an existing file.

    Returns:
        ``(relative key, policy, signature)``.

    Raises:
        Forbidden: ``scope`` is ``shared``.
        Unprocessable: ``key`` is invalid.
        NotFound: No such file.
    """
    _require_personal(scope)
    relative = _relative_key(key, ("query", "key"))
    try:
        await anyio.to_thread.run_sync(store.stat, storage_key(customer_id, scope, relative))
    except ObjectNotFound:
        raise NotFound(f"file {relative!r} not found") from None
    ticket = Ticket(customer_id, scope, relative, "get", int(time.time()) + expires_in)
    policy, signature = _mint(ticket, signing)
    return relative, policy, signature


def upload_ticket(
    customer_id: uuid.UUID, body: AccountFileUploadRequest, *, signing: bytes
) -> tuple[Ticket, str, str]:
    """Mint an upload ticket for ``{path}/{filename}`` of at most ``size`` bytes.

    Returns:
        ``(ticket, policy, signature)``.

    Raises:
        Forbidden: ``scope`` is ``shared``.
        Unprocessable: ``filename``, ``path`` or ``size`` is invalid.
    """
    scope: Scope = body.scope or "personal"
    _require_personal(scope)
    if "/" in body.filename or not body.filename.strip():
        raise Unprocessable(("body", "filename"), "must be a file name without '/'")
    if not 0 <= body.size <= MAX_UPLOAD_BYTES:
        raise Unprocessable(
            ("body", "size"), f"must be between 0 and {MAX_UPLOAD_BYTES} bytes per file"
        )
    folder = _folder(body.path, ("body", "path"))
    key = _relative_key(
        f"{folder}/{body.filename}" if folder else body.filename, ("body", "filename")
    )
    ticket = Ticket(
        customer_id, scope, key, "put", int(time.time()) + DEFAULT_EXPIRES_IN, max_bytes=body.size
    )
    policy, signature = _mint(ticket, signing)
    return ticket, policy, signature


# -- the signed object endpoint ----------------------------------------------------------


class FileMissing(LookupError):
    """A download ticket names a file that is gone (answered with 404)."""


class FileConflict(ValueError):
    """An upload's key is a folder, or under a file (answered with 409)."""


def download_path(store: ObjectStore, ticket: Ticket) -> Path:
    """The file a verified download ticket names.

    Raises:
        FileMissing: The file is gone.
    """
    try:
        store.stat(ticket.storage_key)
    except ObjectNotFound:
        raise FileMissing(f"file {ticket.key!r} not found") from None
    return store.path_for(ticket.storage_key)


class Upload:
    """One file being received for a verified upload ticket: invisible until committed."""

    def __init__(self, writer: ObjectWriter) -> None:
        self._writer = writer

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._writer.size

    def write(self, data: bytes) -> None:
        """Append bytes."""
        self._writer.write(data)

    def commit(self) -> None:
        """Make the file visible under its key.

        Raises:
            FileConflict: A folder exists at the key, or a file at a parent folder.
        """
        try:
            self._writer.commit()
        except KeyConflict as exc:
            raise FileConflict(str(exc)) from None

    def abort(self) -> None:
        """Discard what was written."""
        self._writer.abort()


def open_upload(store: ObjectStore, fields: dict[str, str], signing: bytes) -> tuple[Upload, int]:
    """Start the upload the form ``fields`` (seen before the file) authorise.

    Returns:
        The upload and its byte limit.

    Raises:
        TicketError: The ticket is missing, forged, expired, or for another key.
    """
    ticket = verify_ticket(fields.get("policy", ""), fields.get("signature", ""), signing, "put")
    if fields.get("key") != ticket.key:
        raise TicketError("the key field does not match the ticket")
    return Upload(store.open_writer(ticket.storage_key)), ticket.max_bytes or 0

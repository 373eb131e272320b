"""Receive an S3-style presigned POST: form fields first, then one file, streamed to disk.

The file is never held in memory: each chunk goes straight into an
:class:`UploadWriter` (``domain.files.Upload``), and the upload stops as
soon as it exceeds the byte limit its signed policy allows. The policy is
checked when the file part begins, i.e. before a single file byte is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["FormError", "UploadTooLarge", "receive_upload"]

# Form fields (key, policy, signature, Content-Type ...) are small; this bounds
# what an unauthenticated caller can make the server buffer before the policy is
# verified.
_MAX_FIELDS_BYTES = 64 * 1024
_FILE_FIELD = "file"


class UploadWriter(Protocol):
    """Where the file's bytes go (``domain.files.Upload``)."""

    @property
    def size(self) -> int:
        """Bytes written so far."""

    def write(self, data: bytes) -> None:
        """Append bytes."""

    def commit(self) -> None:
        """Make the file visible."""

    def abort(self) -> None:
        """Discard what was written."""


class FormError(Exception):
    """The body is not a well-formed upload form (answered with 400)."""


class UploadTooLarge(Exception):
    """The file is larger than the signed policy allows (answered with 413)."""


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    is_file: bool = False
    data: bytearray = field(default_factory=bytearray)


@dataclass
class _State:
    fields: dict[str, str] = field(default_factory=dict)
    fields_bytes: int = 0
    part: _Part = field(default_factory=_Part)
    header_name: bytes = b""
    header_value: bytes = b""
    file_seen: bool = False
    file_done: bool = False
    # File bytes parsed from the current chunk, flushed after each write().
    pending: list[bytes] = field(default_factory=list)
    file_started: bool = False

    # -- python-multipart callbacks ------------------------------------------------

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.header_name.lower()] = self.header_value
        self.header_name = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if name is None:
            raise FormError("every form part needs a Content-Disposition name")
        self.part.name = name.decode("utf-8", errors="replace")
        if self.part.name == _FILE_FIELD:
            if self.file_seen:
                raise FormError("send exactly one file part")
            self.part.is_file = True
            self.file_seen = True
            self.file_started = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.is_file:
            self.pending.append(bytes(data[start:end]))
            return
        if self.file_seen:
            return  # as in S3, fields after the file are ignored
        self.fields_bytes += end - start
        if self.fields_bytes > _MAX_FIELDS_BYTES:
            raise FormError("the form fields are too large")
        self.part.data += data[start:end]

    def on_part_end(self) -> None:
        if self.part.is_file:
            self.file_done = True
        elif not self.file_seen:
            self.fields[self.part.name] = self.part.data.decode("utf-8", errors="replace")

    def callbacks(self) -> MultipartCallbacks:
        """The parser callbacks, bound to this state."""
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }


async def receive_upload(
    content_type: str,
    body: AsyncIterator[bytes],
    open_upload: Callable[[dict[str, str]], tuple[UploadWriter, int]],
) -> int:
    """Stream a multipart upload into the object store.

    Args:
        content_type: The request's ``Content-Type`` (``multipart/form-data; boundary=...``).
        body: The request body chunks.
        open_upload: Called with the form fields seen before the file; returns where
            the file goes and its byte limit, or raises to refuse the upload.

    Returns:
        The number of bytes stored.

    Raises:
        FormError: Malformed form, no boundary, or no ``file`` part.
        UploadTooLarge: The file exceeds the limit (nothing is stored).
    """
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise FormError("send the upload as multipart/form-data with the ticket's fields")
    state = _State()
    parser = MultipartParser(boundary, state.callbacks())
    writer: UploadWriter | None = None
    limit = 0
    try:
        async for chunk in body:
            _feed(parser, chunk)
            if state.file_started and writer is None:
                writer, limit = open_upload(dict(state.fields))
            if writer is not None:
                _write_pending(writer, state.pending, limit)
            state.pending.clear()
        try:
            parser.finalize()
        except Exception as exc:
            raise FormError(f"malformed multipart body: {exc}") from None
        if writer is None or not state.file_done:
            raise FormError(f"the form has no complete {_FILE_FIELD!r} part")
        await anyio.to_thread.run_sync(writer.commit)
        return writer.size
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _feed(parser: MultipartParser, chunk: bytes) -> None:
    try:
        parser.write(chunk)
    except FormError:
        raise
    except Exception as exc:  # python-multipart raises several error types
        raise FormError(f"malformed multipart body: {exc}") from None


def _write_pending(writer: UploadWriter, pending: list[bytes], limit: int) -> None:
    for data in pending:
        if writer.size + len(data) > limit:
            raise UploadTooLarge(f"the file exceeds the {limit} bytes of its ticket")
        writer.write(data)

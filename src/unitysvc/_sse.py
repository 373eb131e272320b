"""Incremental decoders for streamed HTTP bodies: SSE, NDJSON, text lines, bytes.

Pure and I/O-free: each decoder is fed the body chunk by chunk as it arrives
(``feed(chunk) -> list``) and told when it ended (``flush() -> list``), so the
sync and the async streaming responses drive the very same objects.

Everything here runs in time linear in the body size, whatever the chunking: a
line that spans many chunks is kept as a list of pieces and joined once, and line
ends are found by C-level ``bytes`` methods, never by a Python loop over
characters. A 4 MiB SSE frame fed in 4 KiB chunks is copied a few times in
all, not once per chunk.

SSE follows the WHATWG "event stream interpretation" rules:

* lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF at the
  start of the next are one line end); one leading UTF-8 BOM is ignored;
* ``data:`` lines are joined with ``\\n``; exactly one space after the colon is
  stripped, for every field; a line without a colon is a field with an empty value;
* ``event:`` sets the event type, ``id:`` the last event id (ignored when it
  contains NUL), ``retry:`` the reconnection time (ASCII digits only); lines
  starting with ``:`` are comments; unknown fields are ignored;
* a blank line dispatches the event if it had at least one ``data`` line; an
  event left unfinished when the body ends is discarded.
"""

from __future__ import annotations

import codecs
import json
import json.scanner
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar, cast

__all__ = [
    "BodyStyle",
    "BytesDecoder",
    "Decoder",
    "EventDecoder",
    "LineDecoder",
    "LineSplitter",
    "NDJSONDecoder",
    "PIECE_SIZE",
    "SSEDecoder",
    "StreamEvent",
    "StreamKind",
    "TextLineDecoder",
    "classify",
    "pieces",
    "text_encoding",
]

StreamKind = Literal["sse", "ndjson", "line", "bytes", "done"]
"""What a :class:`StreamEvent` holds; see :meth:`unitysvc.StreamingResponse.iter_events`."""

BodyStyle = Literal["sse", "ndjson", "line", "bytes"]
"""How a body is cut into events, chosen from its Content-Type by :func:`classify`."""

T = TypeVar("T")

_BOM = b"\xef\xbb\xbf"
_NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/ndjson"})


@dataclass(slots=True)
class StreamEvent:
    """One event from a streaming response body.

    Not frozen on purpose: building a frozen dataclass costs several times more, and
    one is built per event on the hot path.

    Attributes:
        kind: ``"sse"``, ``"ndjson"``, ``"line"``, ``"bytes"`` or ``"done"``. See
            :meth:`~unitysvc.StreamingResponse.iter_events` for the taxonomy.
        parsed: ``"sse"``: the JSON-decoded data, or the data text when it is not
            JSON. ``"ndjson"``: the JSON-decoded line, or ``None`` when it is not
            JSON. ``None`` for the other kinds.
        raw: The bytes of this event: for ``"sse"`` / ``"done"`` the frame's lines
            (comments and all fields included) joined with ``\\n``, without the blank
            line that ended it; for ``"ndjson"`` / ``"line"`` the line without its
            line end; for ``"bytes"`` the chunk.
        text: ``"sse"`` / ``"done"``: the data text. ``"ndjson"`` / ``"line"``: the
            decoded line. ``None`` for ``"bytes"``.
        event: SSE only: the ``event:`` field of this frame; ``None`` when the frame
            had none (the spec's default type ``"message"``).
        id: SSE only: the last event id in effect, as the spec's ``lastEventId``:
            set by an ``id:`` field and kept for later frames until changed.
        retry: SSE only: the reconnection time in milliseconds most recently sent
            in a ``retry:`` field, kept for later frames until changed.
    """

    kind: StreamKind
    parsed: Any = None
    raw: bytes = b""
    text: str | None = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class Decoder(Protocol[T]):
    """What the streaming responses drive: bytes in, items out, chunk by chunk."""

    @property
    def finished(self) -> bool:
        """True once the body needs no more input (after an SSE ``[DONE]``)."""
        ...

    @property
    def piece_size(self) -> int | None:
        """Largest input to feed at once (see :func:`pieces`); None: whole chunks."""
        ...

    def feed(self, chunk: bytes) -> list[T]:
        """Decode one chunk; return the items it completed."""
        ...

    def flush(self) -> list[T]:
        """Signal the end of the body; return the items still pending."""
        ...


PIECE_SIZE = 16 * 1024
"""Default largest input a text decoder is fed at once; see :func:`pieces`."""


def pieces(chunk: bytes, size: int | None) -> list[bytes]:
    """Cut a network chunk into pieces of at most ``size`` bytes (None: keep it whole).

    Drivers feed the pieces one by one and hand out each piece's events before
    decoding the next. A 64 KiB read holds some 300 events; decoded in one go, they
    stay alive long enough to be promoted out of CPython's young GC generation,
    which costs about an eighth of the throughput. Pieces of 16 KiB avoid that
    for the price of one copy of the chunk.
    """
    if size is None or len(chunk) <= size:
        return [chunk]
    return [chunk[i : i + size] for i in range(0, len(chunk), size)]


def _media_type_and_params(content_type: str | None) -> tuple[str, str]:
    media, _, params = (content_type or "").partition(";")
    return media.strip().lower(), params


def classify(content_type: str | None) -> BodyStyle:
    """Choose how to cut a body into events from its Content-Type.

    Parameters after ``;`` are ignored and the match is case-insensitive.

    Args:
        content_type: The ``Content-Type`` header value, or ``None``.

    Returns:
        ``"sse"`` for ``text/event-stream``; ``"ndjson"`` for
        ``application/x-ndjson``, ``application/jsonl`` and ``application/ndjson``;
        ``"line"`` for any other ``text/*``; ``"bytes"`` for anything else,
        including a missing header.
    """
    media, _ = _media_type_and_params(content_type)
    if media == "text/event-stream":
        return "sse"
    if media in _NDJSON_TYPES:
        return "ndjson"
    if media.startswith("text/"):
        return "line"
    return "bytes"


def text_encoding(content_type: str | None) -> str:
    """The text encoding a Content-Type declares (``charset=``), else ``"utf-8"``.

    Unknown charsets fall back to UTF-8 rather than failing mid-stream. Lines are
    split on bytes, so only ASCII-compatible charsets are decoded correctly.
    """
    _, params = _media_type_and_params(content_type)
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').strip("'")
            try:
                return codecs.lookup(charset).name
            except LookupError:
                break
    return "utf-8"


# ``json.loads`` spends a quarter of its time on argument checks and whitespace
# regexes around the C scanner that does the parsing. Calling the scanner
# directly parses a value starting at offset 0; whatever it does not consume
# whole (leading or trailing whitespace, junk) goes through ``json.loads`` for
# exactly the standard behaviour.
_scan_once = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))


def _loads(text: str) -> Any:
    """``json.loads(text)``, faster for the common case of a bare JSON value."""
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        return json.loads(text)
    if end == len(text):
        return value
    return json.loads(text)


def _json_or(text: str, fallback: Any) -> Any:
    try:
        return _loads(text)
    except (ValueError, RecursionError):
        return fallback


class LineSplitter:
    """Split a byte stream into lines, ending at CRLF, LF or CR, incrementally.

    Lines are returned without their line end. A CR that ends one chunk and an LF
    that starts the next are one line end. An unterminated last line comes out of
    :meth:`flush`.

    Args:
        strip_bom: Drop one UTF-8 byte order mark at the start of the stream.
    """

    __slots__ = ("_head", "_pending", "_skip_lf")

    def __init__(self, *, strip_bom: bool = True) -> None:
        self._pending: list[bytes] = []
        self._skip_lf = False
        # Bytes held back while they could still be the start of a BOM; None once
        # the start of the stream has been seen.
        self._head: bytes | None = b"" if strip_bom else None

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add a chunk; return the lines it completed."""
        if self._head is not None:
            chunk = self._head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk
                return []
            self._head = None
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
        if b"\r" in chunk:
            # A trailing CR ends its line now; remember to drop an LF that may
            # start the next chunk. Normalising with two C-level replaces keeps
            # CR and CRLF streams as fast as LF ones.
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n")
            if b"\r" in chunk:
                chunk = chunk.replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        tail = lines.pop()
        pending = self._pending
        if pending and lines:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
            pending.clear()
        if tail:
            pending.append(tail)
        return lines

    def flush(self) -> list[bytes]:
        """End of stream: return the unterminated last line, if any."""
        pending = self._pending
        if self._head:
            pending.insert(0, self._head)
            self._head = None
        if not pending:
            return []
        line = b"".join(pending)
        pending.clear()
        return [line]


class SSEDecoder:
    """Decode a ``text/event-stream`` body into ``"sse"`` and ``"done"`` events.

    ``data: [DONE]`` (the OpenAI-style end marker) yields one ``"done"`` event;
    after it :attr:`finished` is true and further input is ignored.
    """

    __slots__ = ("_data", "_event", "_finished", "_frame", "_id", "_lines", "_retry")

    piece_size = PIECE_SIZE

    def __init__(self) -> None:
        self._lines = LineSplitter()
        self._data: list[bytes] = []
        self._frame: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._finished = False

    @property
    def finished(self) -> bool:
        """True once ``data: [DONE]`` was seen."""
        return self._finished

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Decode one chunk; return the events it completed."""
        if self._finished:
            return []
        return self._decode_lines(self._lines.feed(chunk))

    def flush(self) -> list[StreamEvent]:
        """End of body: an event without its closing blank line is discarded."""
        self._lines.flush()
        self._data.clear()
        self._frame.clear()
        return []

    def _decode_lines(self, lines: list[bytes]) -> list[StreamEvent]:
        # The hot loop: one iteration per line, two lines per typical event.
        # Dispatch and JSON decoding are inlined because a call per event is a
        # measurable share of the per-event budget.
        events: list[StreamEvent] = []
        data = self._data
        frame = self._frame
        for line in lines:
            if line:
                frame.append(line)
                if line.startswith(b"data:"):
                    data.append(line[6:] if line.startswith(b"data: ") else line[5:])
                elif line[0] != 0x3A:  # not a ":" comment
                    self._set_field(line)
                continue
            if data:
                payload = data[0] if len(data) == 1 else b"\n".join(data)
                raw = frame[0] if len(frame) == 1 else b"\n".join(frame)
                text = payload.decode("utf-8", "replace")
                if payload.startswith(b"[DONE]") and not payload[6:].strip():
                    events.append(
                        StreamEvent("done", None, raw, text, self._event, self._id, self._retry)
                    )
                    self._finished = True
                    return events
                try:
                    parsed, end = _scan_once(text, 0)
                    if end != len(text):
                        parsed = json.loads(text)
                except StopIteration:  # not JSON, or JSON after whitespace
                    parsed = _json_or(text, text)
                except (ValueError, RecursionError):
                    parsed = text
                events.append(
                    StreamEvent("sse", parsed, raw, text, self._event, self._id, self._retry)
                )
                data.clear()
            frame.clear()
            self._event = None
        return events

    def _set_field(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._id = value.decode("utf-8", "replace")
        elif name == b"retry":
            if value.isdigit():  # bytes.isdigit accepts ASCII digits only
                self._retry = int(value)
        elif name == b"data":
            # Only a bare "data" line (no colon) gets here; "data:..." is handled
            # on the hot path.
            self._data.append(b"")


class _LineBased(ABC, Generic[T]):
    """Base for decoders that turn each line of the body into an item.

    Args:
        encoding: The body's text encoding (see :func:`text_encoding`).
    """

    __slots__ = ("_encoding", "_lines")

    #: Line-based bodies have no end marker: they end when the body does.
    finished = False
    piece_size = PIECE_SIZE

    def __init__(self, encoding: str = "utf-8") -> None:
        self._lines = LineSplitter()
        self._encoding = encoding

    def feed(self, chunk: bytes) -> list[T]:
        """Decode one chunk; return the items for the lines it completed."""
        return self._convert(self._lines.feed(chunk))

    def flush(self) -> list[T]:
        """End of body: convert the unterminated last line, if any."""
        return self._convert(self._lines.flush())

    @abstractmethod
    def _convert(self, lines: list[bytes]) -> list[T]:
        """Turn complete lines into items."""


class NDJSONDecoder(_LineBased[StreamEvent]):
    """Decode newline-delimited JSON into ``"ndjson"`` events; blank lines are skipped.

    NDJSON is UTF-8 by definition, so no encoding is taken.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("utf-8")

    def _convert(self, lines: list[bytes]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for line in lines:
            if not line or line.isspace():
                continue
            text = line.decode("utf-8", "replace")
            events.append(StreamEvent("ndjson", _json_or(text, None), line, text))
        return events


class LineDecoder(_LineBased[StreamEvent]):
    """Decode a text body into one ``"line"`` event per line (empty lines included)."""

    __slots__ = ()

    def _convert(self, lines: list[bytes]) -> list[StreamEvent]:
        encoding = self._encoding
        return [StreamEvent("line", None, line, line.decode(encoding, "replace")) for line in lines]


class TextLineDecoder(_LineBased[str]):
    """Split a body into decoded text lines (what ``iter_lines`` yields)."""

    __slots__ = ()

    def _convert(self, lines: list[bytes]) -> list[str]:
        encoding = self._encoding
        return [line.decode(encoding, "replace") for line in lines]


class BytesDecoder:
    """One ``"bytes"`` event per non-empty chunk."""

    __slots__ = ()

    finished = False
    #: Each chunk is one event: never cut.
    piece_size = None

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Wrap the chunk in an event."""
        return [StreamEvent("bytes", None, chunk)] if chunk else []

    def flush(self) -> list[StreamEvent]:
        """Nothing is ever held back."""
        return []


class EventDecoder:
    """The decoder ``iter_events`` uses: chosen from the Content-Type by :func:`classify`.

    Args:
        content_type: The response's ``Content-Type`` header, or ``None``.

    Example::

        decoder = EventDecoder("text/event-stream")
        for chunk in chunks:
            for piece in pieces(chunk, decoder.piece_size):
                for event in decoder.feed(piece):
                    ...
            if decoder.finished:
                break
        else:
            events = decoder.flush()
    """

    __slots__ = ("_impl", "style")

    def __init__(self, content_type: str | None) -> None:
        self.style: BodyStyle = classify(content_type)
        self._impl: Decoder[StreamEvent]
        if self.style == "sse":
            self._impl = SSEDecoder()
        elif self.style == "ndjson":
            self._impl = NDJSONDecoder()
        elif self.style == "line":
            self._impl = LineDecoder(text_encoding(content_type))
        else:
            self._impl = BytesDecoder()

    @property
    def finished(self) -> bool:
        """True once the body needs no more input (after an SSE ``[DONE]``)."""
        return self._impl.finished

    @property
    def piece_size(self) -> int | None:
        """Largest input to feed at once (see :func:`pieces`); None: whole chunks."""
        return self._impl.piece_size

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Decode one chunk; return the events it completed."""
        return self._impl.feed(chunk)

    def flush(self) -> list[StreamEvent]:
        """Signal the end of the body; return the events still pending."""
        return self._impl.flush()

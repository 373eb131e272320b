"""Unit tests of the incremental body decoders in ``unitysvc._sse``.

The SSE decoder is checked against a small reference implementation written
straight from the WHATWG "event stream interpretation" steps, and property-tested:
any split of the same bytes into chunks gives the same events, for every
line-ending style.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unitysvc._sse import (
    EventDecoder,
    LineSplitter,
    NDJSONDecoder,
    SSEDecoder,
    StreamEvent,
    TextLineDecoder,
    classify,
    text_encoding,
)

BOM = b"\xef\xbb\xbf"


def feed_all(decoder: Any, chunks: list[bytes]) -> list[Any]:
    """Feed chunks as a streaming response would: stop once finished, then flush."""
    out: list[Any] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
        if decoder.finished:
            return out
    out += decoder.flush()
    return out


def sse(body: bytes, chunk_size: int | None = None) -> list[StreamEvent]:
    size = chunk_size or max(len(body), 1)
    return feed_all(SSEDecoder(), [body[i : i + size] for i in range(0, len(body), size)])


def split_at(body: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(c % (len(body) + 1) for c in cuts), len(body)]
    return [body[a:b] for a, b in zip(points, points[1:], strict=False)]


# -- reference SSE interpretation, written from the spec text ------------------------


def reference_sse(body: bytes) -> list[StreamEvent]:
    if body.startswith(BOM):
        body = body[len(BOM) :]
    # Only terminated lines count; what follows the last line end is never dispatched.
    raw_lines = re.split(rb"\r\n|\r|\n", body)[:-1]
    events: list[StreamEvent] = []
    data: list[str] = []
    frame: list[bytes] = []
    event_type: str | None = None
    last_id: str | None = None
    retry: int | None = None
    for raw_line in raw_lines:
        line = raw_line.decode("utf-8", "replace")
        if line == "":
            if data:
                payload = "\n".join(data)
                raw = b"\n".join(frame)
                if payload.startswith("[DONE]") and not payload[6:].strip(" \t\n\r\x0b\x0c"):
                    events.append(
                        StreamEvent("done", None, raw, payload, event_type, last_id, retry)
                    )
                    return events
                try:
                    parsed: Any = json.loads(payload)
                except ValueError:
                    parsed = payload
                events.append(StreamEvent("sse", parsed, raw, payload, event_type, last_id, retry))
            data, frame, event_type = [], [], None
            continue
        frame.append(raw_line)
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events


# -- classification ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "style"),
    [
        ("text/event-stream", "sse"),
        ("Text/Event-Stream; charset=utf-8", "sse"),
        ("  text/event-stream  ;x=y", "sse"),
        ("application/x-ndjson", "ndjson"),
        ("application/jsonl", "ndjson"),
        ("APPLICATION/NDJSON; charset=utf-8", "ndjson"),
        ("text/plain", "line"),
        ("text/csv; header=present", "line"),
        ("application/json", "bytes"),
        ("application/octet-stream", "bytes"),
        ("", "bytes"),
        (None, "bytes"),
    ],
)
def test_classify(content_type: str | None, style: str) -> None:
    assert classify(content_type) == style
    assert EventDecoder(content_type).style == style


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("text/plain", "utf-8"),
        ("text/plain; charset=ISO-8859-1", "iso8859-1"),
        ('text/plain; format=flowed; charset="latin-1"', "iso8859-1"),
        ("text/plain; charset=no-such-codec", "utf-8"),
        (None, "utf-8"),
    ],
)
def test_text_encoding(content_type: str | None, encoding: str) -> None:
    assert text_encoding(content_type) == encoding


# -- line splitting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"a\nb\n"], [b"a", b"b"]),
        ([b"a\r\nb\r\n"], [b"a", b"b"]),
        ([b"a\rb\r"], [b"a", b"b"]),
        ([b"a\r", b"\nb\n"], [b"a", b"b"]),  # CR | LF across chunks: one line end
        ([b"a\r", b"", b"\nb\n"], [b"a", b"b"]),  # an empty chunk changes nothing
        ([b"a\r", b"\r\n"], [b"a", b""]),
        ([b"a\n\r\n\r"], [b"a", b"", b""]),
        ([b"ab", b"c", b"d\ne"], [b"abcd", b"e"]),
        ([b"no end"], [b"no end"]),
        ([BOM + b"x\n"], [b"x"]),
        ([BOM[:1], BOM[1:2], BOM[2:] + b"x\n"], [b"x"]),  # BOM split over chunks
        ([b"x\n" + BOM + b"y\n"], [b"x", BOM + b"y"]),  # only at the very start
        ([BOM[:2]], [BOM[:2]]),  # a lone BOM prefix is content
        ([BOM + BOM + b"x\n"], [BOM + b"x"]),  # only one is dropped
    ],
)
def test_line_splitter(chunks: list[bytes], lines: list[bytes]) -> None:
    splitter = LineSplitter()
    out: list[bytes] = []
    for chunk in chunks:
        out += splitter.feed(chunk)
    assert out + splitter.flush() == lines


def test_line_splitter_keeps_bom_when_told() -> None:
    splitter = LineSplitter(strip_bom=False)
    assert splitter.feed(BOM + b"x\n") == [BOM + b"x"]


def test_line_spanning_many_chunks_is_joined_once_and_whole() -> None:
    line = bytes(range(32, 127)) * 50_000
    splitter = LineSplitter()
    out: list[bytes] = []
    for i in range(0, len(line), 4096):
        out += splitter.feed(line[i : i + 4096])
    out += splitter.feed(b"\n")
    assert out == [line]


# -- SSE fields ----------------------------------------------------------------------


def test_openai_style_stream() -> None:
    body = b'data: {"a": 1}\n\ndata: {"a": 2}\n\ndata: [DONE]\n\n'
    events = sse(body)
    assert [(e.kind, e.parsed) for e in events] == [
        ("sse", {"a": 1}),
        ("sse", {"a": 2}),
        ("done", None),
    ]
    assert events[0] == StreamEvent("sse", {"a": 1}, b'data: {"a": 1}', '{"a": 1}')
    assert events[2].text == "[DONE]"


def test_multiline_data_is_joined_with_newlines() -> None:
    (event,) = sse(b"data: first\ndata:second\ndata\ndata:  indented\n\n")
    assert event.text == "first\nsecond\n\n indented"
    assert event.raw == b"data: first\ndata:second\ndata\ndata:  indented"


def test_exactly_one_space_is_stripped_for_every_field() -> None:
    (event,) = sse(b"event:  spaced\nid:  7\ndata:  x \n\n")
    assert (event.event, event.id, event.text) == (" spaced", " 7", " x ")


def test_event_id_and_retry_are_kept() -> None:
    body = b"event: delta\nid: 42\nretry: 1500\ndata: {}\n\n"
    (event,) = sse(body)
    assert (event.kind, event.event, event.id, event.retry, event.parsed) == (
        "sse",
        "delta",
        "42",
        1500,
        {},
    )
    assert event.raw == body[:-2]


def test_id_and_retry_persist_while_event_type_resets() -> None:
    events = sse(b"event: a\nid: 1\nretry: 10\ndata: x\n\ndata: y\n\nid\ndata: z\n\n")
    assert [(e.event, e.id, e.retry) for e in events] == [
        ("a", "1", 10),
        (None, "1", 10),
        (None, "", 10),
    ]


def test_id_with_nul_is_ignored() -> None:
    events = sse(b"id: good\ndata: 1\n\nid: b\x00d\ndata: 2\n\n")
    assert [e.id for e in events] == ["good", "good"]


@pytest.mark.parametrize("value", [b"", b"12a", b"-1", b"+1", b"1.5", b" 1", "\uff11".encode()])
def test_retry_takes_ascii_digits_only(value: bytes) -> None:
    (event,) = sse(b"retry: 7\ndata: x\n\nretry: " + value + b"\ndata: y\n\n")[1:]
    assert event.retry == 7


def test_comments_unknown_fields_and_case_are_ignored() -> None:
    body = b": keep-alive\nfoo: bar\nData: nope\nDATA: nope\ndata: yes\n:another\n\n"
    (event,) = sse(body)
    assert event.text == "yes"
    assert event.raw == body[:-2]  # the frame as received, comments included


def test_frames_without_data_are_not_dispatched() -> None:
    body = b": ping\n\nevent: lonely\n\nid: 5\n\nretry: 9\n\n\n\ndata: x\n\n"
    (event,) = sse(body)
    assert (event.text, event.event, event.id, event.retry) == ("x", None, "5", 9)


def test_empty_data_is_dispatched() -> None:
    (event,) = sse(b"data\n\n")
    assert (event.kind, event.text, event.parsed) == ("sse", "", "")


@pytest.mark.parametrize(
    ("data", "parsed"),
    [
        (b'  {"a": [1, 2]}  ', {"a": [1, 2]}),
        (b"42", 42),
        (b'"quoted"', "quoted"),
        (b"null", None),
        (b"hello world", "hello world"),
        (b'{"a":', '{"a":'),
        (b'{"a": 1} trailing', '{"a": 1} trailing'),
        (b"[" * 100_000, "[" * 100_000),  # too deep for json: kept as text
        (b"\xff\xfe", "\ufffd\ufffd"),
    ],
)
def test_parsed_is_json_or_the_text(data: bytes, parsed: Any) -> None:
    (event,) = sse(b"data: " + data + b"\n\n")
    assert event.parsed == parsed
    assert event.text == data.decode("utf-8", "replace")


def test_done_stops_decoding() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: 1\n\ndata: [DONE]\n\ndata: 2\n\n")
    assert [e.kind for e in events] == ["sse", "done"]
    assert decoder.finished
    assert decoder.feed(b"data: 3\n\n") == []
    assert decoder.flush() == []


@pytest.mark.parametrize("data", [b"[DONE]", b"[DONE] ", b"[DONE]\r"])
def test_done_marker(data: bytes) -> None:
    assert [e.kind for e in sse(b"data:" + data + b"\n\n")] == ["done"]


def test_done_prefix_with_more_text_is_data() -> None:
    (event,) = sse(b"data: [DONE] later\n\n")
    assert (event.kind, event.parsed) == ("sse", "[DONE] later")


def test_unfinished_event_at_end_of_body_is_discarded() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: complete\n\ndata: partial\n") != []
    assert decoder.flush() == []


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_line_endings(ending: bytes) -> None:
    body = ending.join([b"event: e", b"data: 1", b"data: 2", b"", b"data: 3", b"", b""])
    events = sse(body, chunk_size=1)
    assert [(e.event, e.text) for e in events] == [("e", "1\n2"), (None, "3")]


def test_cr_only_events_are_not_merged() -> None:
    assert [e.parsed for e in sse(b"data: 1\r\rdata: 2\r\r")] == [1, 2]


def test_bom_at_stream_start_is_ignored() -> None:
    assert [e.text for e in sse(BOM + b"data: x\n\n", chunk_size=1)] == ["x"]


def test_large_frame_in_small_chunks() -> None:
    payload = json.dumps({"blob": "x" * (4 * 1024 * 1024)}).encode()
    (event,) = sse(b"data: " + payload + b"\n\n", chunk_size=4096)
    assert len(event.parsed["blob"]) == 4 * 1024 * 1024
    assert event.raw == b"data: " + payload


# -- property tests ------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_value_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
_sse_lines = st.one_of(
    _json_values.map(lambda v: "data: " + json.dumps(v)),
    _value_text.map(lambda v: "data:" + v),
    st.just("data"),
    st.just("data: [DONE]"),
    _value_text.map(lambda v: "event: " + v),
    _value_text.map(lambda v: "id: " + v),
    st.just("id: a\0b"),
    st.sampled_from(["retry: 1000", "retry: 12x", "retry:"]),
    _value_text.map(lambda v: ":" + v),
    _value_text.map(lambda v: "other: " + v),
    st.just(""),
    st.just(""),
)
_endings = {"lf": ["\n"], "crlf": ["\r\n"], "cr": ["\r"], "mixed": ["\n", "\r\n", "\r"]}


@st.composite
def sse_bodies(draw: st.DrawFn, style: str) -> bytes:
    lines = draw(st.lists(_sse_lines, max_size=25))
    ends = draw(
        st.lists(st.sampled_from(_endings[style]), min_size=len(lines), max_size=len(lines))
    )
    body = "".join(line + end for line, end in zip(lines, ends, strict=True))
    if draw(st.booleans()):
        body += draw(_value_text)  # an unterminated tail
    prefix = BOM if draw(st.booleans()) else b""
    return prefix + body.encode()


@pytest.mark.parametrize("style", list(_endings))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_split_gives_the_same_events_as_the_spec(style: str, data: st.DataObject) -> None:
    body = data.draw(sse_bodies(style))
    cuts = data.draw(st.lists(st.integers(min_value=0), max_size=12))
    whole = feed_all(SSEDecoder(), [body])
    assert whole == reference_sse(body)
    assert feed_all(SSEDecoder(), split_at(body, cuts)) == whole
    assert feed_all(SSEDecoder(), [bytes([b]) for b in body]) == whole


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_arbitrary_bytes_never_break_the_decoders(body: bytes, cuts: list[int]) -> None:
    chunks = split_at(body, cuts)
    for content_type in ("text/event-stream", "application/x-ndjson", "text/plain"):
        whole = feed_all(EventDecoder(content_type), [body])
        assert feed_all(EventDecoder(content_type), chunks) == whole
    assert b"".join(e.raw for e in feed_all(EventDecoder(None), chunks)) == body
    assert feed_all(SSEDecoder(), [body]) == reference_sse(body)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(_json_values, max_size=10),
    ending=st.sampled_from(["\n", "\r\n"]),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
)
def test_ndjson_any_split(values: list[Any], ending: str, cuts: list[int]) -> None:
    body = "".join(json.dumps(v) + ending for v in values).encode()
    events = feed_all(NDJSONDecoder(), split_at(body, cuts))
    assert [e.parsed for e in events] == values
    assert all(e.kind == "ndjson" for e in events)


# -- ndjson, line and bytes ----------------------------------------------------------


def test_ndjson_lines() -> None:
    events = feed_all(
        EventDecoder("application/x-ndjson"), [b'{"a": 1}\n', b"\n  \r\n", b"not json\n[1,", b"2]"]
    )
    assert [(e.kind, e.parsed, e.raw, e.text) for e in events] == [
        ("ndjson", {"a": 1}, b'{"a": 1}', '{"a": 1}'),
        ("ndjson", None, b"not json", "not json"),
        ("ndjson", [1, 2], b"[1,2]", "[1,2]"),
    ]


def test_line_events_keep_empty_lines_and_decode_the_charset() -> None:
    events = feed_all(EventDecoder("text/plain; charset=latin-1"), [b"caf\xe9\r\n\r\nend"])
    assert [(e.kind, e.text, e.raw, e.parsed) for e in events] == [
        ("line", "café", b"caf\xe9", None),
        ("line", "", b"", None),
        ("line", "end", b"end", None),
    ]


def test_text_line_decoder() -> None:
    decoder = TextLineDecoder()
    assert decoder.feed("zürich\nbe".encode()) == ["zürich"]
    assert decoder.feed(b"rn\r") == ["bern"]
    assert decoder.flush() == []


def test_bytes_events_are_the_chunks() -> None:
    decoder = EventDecoder("application/octet-stream")
    assert decoder.feed(b"\x00\x01") == [StreamEvent("bytes", None, b"\x00\x01")]
    assert decoder.feed(b"") == []
    assert decoder.flush() == []
    assert not decoder.finished

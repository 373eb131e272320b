"""Usage metering of upstream calls: tokens, bytes and time, priced when the body ends.

Every upstream call the routing core makes for a customer is metered here (a cache hit
makes no upstream call and is not): :meth:`Metering.prepare` may ask the upstream for
usage, :meth:`Metering.wrap` watches the response body go by and, when it ends, prices
the call (:class:`~unitysvc_server.domain.usage.Pricer`) and hands a
:class:`~unitysvc_server.domain.usage.UsageEvent` to the writer -- never delaying the
response. The response also says which service served it (``x-unitysvc-service-id``).

Tokens come from the upstream's ``usage`` object (OpenAI-shaped; the Responses API and
Anthropic's shapes are read too): the top-level ``usage`` of a JSON body (bodies up to
:data:`MAX_JSON_BYTES`), or, for a server-sent-event stream, the ``usage`` of its events
(later events override earlier ones field by field, so Anthropic's ``message_start`` +
``message_delta`` add up). An OpenAI-compatible stream carries usage only when the
request asks with ``stream_options.include_usage``; for a streamed ``.../completions``
call that did not ask, the gateway adds the option, and removes the extra usage-only
event (``"choices": []``) from what the caller receives, so the caller sees the stream it
asked for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from unitysvc_server.catalog.model import CatalogService
from unitysvc_server.clock import utcnow
from unitysvc_server.domain.usage import DEFAULT_CURRENCY, Pricer, Usage, UsageEvent
from unitysvc_server.gateway.pipeline import GatewayRequest, GatewayResponse, ResponseBody

logger = logging.getLogger("unitysvc_server.gateway")

#: The response header naming the service that served a gateway call.
SERVICE_HEADER = b"x-unitysvc-service-id"
#: JSON bodies longer than this are passed on without reading their usage.
MAX_JSON_BYTES = 8 * 1024 * 1024
#: An SSE line (or, when filtering, an event) longer than this is passed on unread.
MAX_EVENT_BYTES = 1024 * 1024
_EVENT_END = re.compile(rb"\r?\n\r?\n")

SubmitEvent = Callable[[UsageEvent], None]


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def token_counts(raw: Mapping[str, Any]) -> dict[str, int]:
    """Token counts from an upstream ``usage`` object.

    OpenAI counts cached prompt tokens inside ``prompt_tokens`` (the Responses API inside
    ``input_tokens``) while core bills ``cached_input_tokens`` on top of
    ``input_tokens``: they are moved out of the input count, so each token is billed once
    (cached ones at the cached rate). Anthropic reports cache reads apart already.
    """
    out: dict[str, int] = {}
    details = raw.get("prompt_tokens_details") or raw.get("input_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, Mapping) else None
    prompt = _count(raw.get("prompt_tokens"))
    inputs = prompt if prompt is not None else _count(raw.get("input_tokens"))
    if inputs is not None:
        out["input_tokens"] = max(inputs - (cached or 0), 0)
    cache_read = cached if cached is not None else _count(raw.get("cache_read_input_tokens"))
    if cache_read is not None:
        out["cached_input_tokens"] = cache_read
    completion = _count(raw.get("completion_tokens"))
    outputs = completion if completion is not None else _count(raw.get("output_tokens"))
    if outputs is not None:
        out["output_tokens"] = outputs
    total = _count(raw.get("total_tokens"))
    if total is not None:
        out["total_tokens"] = total
    return out


def _usage_object(data: Any) -> Mapping[str, Any] | None:
    """The ``usage`` of a response body or stream event (top level, or nested in
    ``response`` / ``message`` as the Responses API and Anthropic streams put it)."""
    if not isinstance(data, Mapping):
        return None
    for holder in (data, data.get("response"), data.get("message")):
        if isinstance(holder, Mapping) and isinstance(holder.get("usage"), Mapping):
            usage: Mapping[str, Any] = holder["usage"]
            return usage
    return None


def ask_for_usage(request: GatewayRequest, url: str) -> tuple[bytes, bool]:
    """The body to send upstream, and whether ``stream_options.include_usage`` was added.

    Only a JSON object body with ``"stream": true`` going to a ``.../completions`` path
    that did not ask for usage itself is changed.
    """
    body = request.body
    data = request.json()
    if (
        request.method != "POST"
        or not isinstance(data, dict)
        or data.get("stream") is not True
        or not urlsplit(url).path.rstrip("/").endswith("completions")
    ):
        return body, False
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        return body, False
    if options and options.get("include_usage") is True:
        return body, False
    changed = {**data, "stream_options": {**(options or {}), "include_usage": True}}
    return json.dumps(changed).encode(), True


def _content_kind(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key == b"content-type":
            text = value.decode("latin-1").lower()
            if text.startswith("text/event-stream"):
                return "sse"
            if "json" in text:
                return "json"
    return ""


def _event_data(event: bytes) -> Any:
    lines = [line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")]
    if not lines:
        return None
    try:
        return json.loads(b"\n".join(lines))
    except ValueError:
        return None


class _Reading:
    """What has been learned from the body so far."""

    __slots__ = ("tokens", "bytes_out", "buffer", "overflow")

    def __init__(self) -> None:
        self.tokens: dict[str, int] = {}
        self.bytes_out = 0
        self.buffer = b""
        self.overflow = False

    def absorb(self, data: Any) -> None:
        usage = _usage_object(data)
        if usage is not None:
            self.tokens.update(token_counts(usage))


class MeteredBody:
    """A response body passed through while its usage is read; prices the call at its end.

    Args:
        inner: The upstream body.
        kind: ``sse``, ``json`` or ``""`` (nothing to read).
        strip_usage_event: Drop a usage-only SSE event (the gateway asked for it).
        finish: Called once with what was read and whether the body ended normally.
    """

    __slots__ = ("_inner", "_kind", "_strip", "_finish", "_reading", "_ended")

    def __init__(
        self,
        inner: ResponseBody,
        kind: str,
        strip_usage_event: bool,
        finish: Callable[[_Reading, bool], None],
    ) -> None:
        self._inner = inner
        self._kind = kind
        self._strip = strip_usage_event and kind == "sse"
        self._finish = finish
        self._reading = _Reading()
        self._ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reading = self._reading
        async for chunk in self._inner:
            reading.bytes_out += len(chunk)
            if self._strip:
                out = self._filter(chunk)
                if out:
                    yield out
                continue
            if self._kind == "sse":
                self._scan_lines(chunk)
            elif self._kind == "json":
                self._keep(chunk)
            yield chunk
        if self._strip and reading.buffer:
            rest, reading.buffer = reading.buffer, b""
            self._absorb_event(rest)
            yield rest
        self._end(True)

    def _keep(self, chunk: bytes) -> None:
        reading = self._reading
        if reading.overflow:
            return
        if len(reading.buffer) + len(chunk) > MAX_JSON_BYTES:
            reading.overflow, reading.buffer = True, b""
        else:
            reading.buffer += chunk

    def _scan_lines(self, chunk: bytes) -> None:
        reading = self._reading
        data = reading.buffer + chunk
        *lines, reading.buffer = data.split(b"\n")
        if len(reading.buffer) > MAX_EVENT_BYTES:
            reading.buffer = b""
        for line in lines:
            if line.startswith(b"data:") and b'"usage"' in line:
                self._absorb_event(line)

    def _absorb_event(self, event: bytes) -> None:
        if b'"usage"' in event:
            self._reading.absorb(_event_data(event))

    def _filter(self, chunk: bytes) -> bytes:
        reading = self._reading
        data = reading.buffer + chunk
        out: list[bytes] = []
        start = 0
        for match in _EVENT_END.finditer(data):
            event = data[start : match.end()]
            start = match.end()
            if b'"usage"' in event:
                parsed = _event_data(event)
                self._reading.absorb(parsed)
                if (
                    isinstance(parsed, dict)
                    and parsed.get("choices") == []
                    and isinstance(parsed.get("usage"), dict)
                ):
                    continue  # the usage-only event the caller did not ask for
            out.append(event)
        reading.buffer = data[start:]
        if len(reading.buffer) > MAX_EVENT_BYTES:
            out.append(reading.buffer)  # not an event we can hold: pass it on unread
            reading.buffer = b""
        return b"".join(out)

    def _end(self, complete: bool) -> None:
        if self._ended:
            return
        self._ended = True
        reading = self._reading
        if complete and self._kind == "json" and not reading.overflow and reading.buffer:
            with contextlib.suppress(ValueError):  # not JSON after all: no tokens
                reading.absorb(json.loads(reading.buffer))
        reading.buffer = b""
        try:
            self._finish(reading, complete)
        except Exception:
            logger.exception("could not record a usage event")

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._end(False)


class Metering:
    """Meters upstream calls and queues their usage events.

    Args:
        submit: Queues a finished event (returns at once; the log writer).
        pricer: Prices calls by the catalog.
    """

    def __init__(self, submit: SubmitEvent, pricer: Pricer | None = None) -> None:
        self._submit = submit
        self.pricer = pricer or Pricer()

    def wrap(
        self,
        request: GatewayRequest,
        response: GatewayResponse,
        service: CatalogService,
        *,
        bytes_in: int,
        usage_requested: bool,
        started: float,
        on_event: SubmitEvent | None = None,
    ) -> GatewayResponse:
        """Meter ``response`` (the upstream's answer to ``request`` through ``service``).

        Sets ``x-unitysvc-service-id`` and ``request.trace.usage_event_id``; the event is
        queued when the body ends (or is closed early: then the call counts as failed),
        and handed to ``on_event`` too (the budget gate counts its charge).
        """
        trace = request.trace
        event_id = uuid.uuid4()
        trace.usage_event_id = event_id
        channel = trace.channel or ""
        enrollment_id = trace.enrollment_id
        customer_id = request.caller.customer_id
        timestamp = utcnow()
        status = response.status
        upstream_status = None if response.error_type else status

        def finish(reading: _Reading, complete: bool) -> None:
            tokens = reading.tokens
            usage = Usage(
                input_tokens=tokens.get("input_tokens"),
                cached_input_tokens=tokens.get("cached_input_tokens"),
                output_tokens=tokens.get("output_tokens"),
                total_tokens=tokens.get("total_tokens"),
                bytes_in=bytes_in,
                bytes_out=reading.bytes_out,
                duration_ms=round((time.perf_counter() - started) * 1000),
            )
            success = complete and response.error_type is None and 200 <= status < 300
            charge = self.pricer.charge(service, channel, usage) if success else Decimal(0)
            event = UsageEvent(
                id=event_id,
                customer_id=customer_id,
                service_id=service.id,
                channel=channel,
                enrollment_id=enrollment_id,
                event_timestamp=timestamp,
                status_code=upstream_status,
                success=success,
                usage=usage,
                charge=charge,
                currency=service.currency or DEFAULT_CURRENCY,
                pricing_bundle_id=self.pricer.bundle_id(service),
            )
            self._submit(event)
            if on_event is not None:
                on_event(event)

        response.headers = [h for h in response.headers if h[0] != SERVICE_HEADER]
        response.headers.append((SERVICE_HEADER, str(service.id).encode()))
        kind = "" if response.error_type else _content_kind(response.headers)
        response.body = MeteredBody(response.body, kind, usage_requested, finish)
        return response

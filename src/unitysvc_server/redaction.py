"""Keeping credentials out of what the platform stores and logs.

Two kinds of values are redacted:

* anything shaped like a platform key (``svcpass_`` followed by key characters),
  whoever's it is — :data:`KEY_SHAPE`;
* the clear values of the customer secrets a gateway dispatch used (rendered into the
  upstream call). The resolver notes each one with :func:`note_secret_value` in a set
  that lives in the dispatch's :mod:`contextvars` context (:func:`secret_scope`), so
  child dispatches — aliases, chain steps, failover and tee copies — add to the same set
  and the dispatch's request log and log lines see all of them.

:func:`redact_text` / :func:`redact_bytes` apply both to stored request logs.
:func:`install_log_redaction` wraps the :mod:`logging` record factory, so every record
of every logger in the process — SQL statements with their parameters at debug level
included — is redacted before any handler formats it.
"""

from __future__ import annotations

import contextvars
import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any

__all__ = [
    "KEY_SHAPE",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "contains_key_shape",
    "install_log_redaction",
    "note_secret_value",
    "redact_bytes",
    "redact_text",
    "secret_scope",
    "secret_values",
]

#: Text shaped like a platform key: the prefix and at least one key character.
KEY_SHAPE = re.compile(r"svcpass_[A-Za-z0-9_\-]+")
_KEY_SHAPE_BYTES = re.compile(rb"svcpass_[A-Za-z0-9_\-]+")
REDACTED = "***redacted***"
_REDACTED_KEY = "svcpass_" + REDACTED
#: Secret values shorter than this are not redacted: replacing every occurrence of a
#: two-letter value would garble logs without protecting anything worth protecting.
MIN_SECRET_LENGTH = 6

_SECRETS: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "unitysvc_dispatch_secrets", default=None
)


def secret_scope() -> set[str]:
    """The current dispatch's set of used secret values, created when there is none.

    Called where a dispatch starts; a child dispatch in the same task (or in a task
    started from it, whose context is a copy) shares its parent's set.
    """
    values = _SECRETS.get()
    if values is None:
        values = set()
        _SECRETS.set(values)
    return values


def note_secret_value(value: str) -> None:
    """Remember that the current dispatch used the clear secret ``value``."""
    values = _SECRETS.get()
    if values is not None and len(value) >= MIN_SECRET_LENGTH:
        values.add(value)


def secret_values() -> frozenset[str]:
    """The secret values the current dispatch used so far."""
    values = _SECRETS.get()
    return frozenset(values) if values else frozenset()


def contains_key_shape(text: str) -> bool:
    """Whether ``text`` holds something shaped like a platform key."""
    return "svcpass_" in text and KEY_SHAPE.search(text) is not None


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with key-shaped values and the given secret values replaced."""
    if "svcpass_" in text:
        text = KEY_SHAPE.sub(_REDACTED_KEY, text)
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact_bytes(data: bytes, secrets: Iterable[str] = ()) -> bytes:
    """:func:`redact_text` for bytes (values are matched in their UTF-8 form)."""
    if b"svcpass_" in data:
        data = _KEY_SHAPE_BYTES.sub(_REDACTED_KEY.encode(), data)
    for value in secrets:
        raw = value.encode()
        if raw in data:
            data = data.replace(raw, REDACTED.encode())
    return data


_installed = False


def install_log_redaction() -> None:
    """Redact every log record of this process from now on (idempotent).

    A record factory rather than a handler filter: it sees records of every logger,
    whatever handlers the embedding application (uvicorn, pytest, a user's logging
    config) attaches. A record whose message or traceback holds something to redact
    gets its message replaced by the redacted, already formatted text.
    """
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord) -> None:
    secrets = secret_values()
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is the logging module's to report
        return
    redacted = redact_text(message, secrets)
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = redact_text(text, secrets)
        if clean != text:
            # Formatters use exc_text as is when set; the exception object stays for
            # code that inspects it.
            record.exc_text = clean

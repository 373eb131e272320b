"""How an API key is shown: by its prefix only.

Apart from the client (:mod:`unitysvc._core`) so the CLI's ``usvc env`` and ``usvc
server`` show keys without importing the HTTP stack.
"""

from __future__ import annotations

from unitysvc._constants import API_KEY_PREFIX

__all__ = ["redact_key"]


def redact_key(key: str | None) -> str:
    """Show an API key by its prefix only, for logs and reprs."""
    if not key:
        return "<anonymous>"
    return key[:12] + "…" if len(key) > 12 else f"{API_KEY_PREFIX}…"

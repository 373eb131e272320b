"""Channels rendered for one caller, kept per process with their clear credentials.

Rendering a BYOK or enrollment channel decrypts the caller's secret (a Fernet token:
about 40 us) or enrollment parameters and walks the channel's configuration, on every
call otherwise. :class:`RenderedChannels` keeps the result per (customer, service,
channel, enrollment) for the process's lifetime, in memory only, together with the clear
secret values it used (each call still registers them for redaction of its logs).

An entry is valid only for the :class:`~unitysvc_server.domain.caller_context.CallerContext`
object it was rendered from: the gateway replaces a customer's context as soon as any of
the customer's secrets or enrollments change — in this process or another one, through
the invalidation bus — so a changed key is used by the very next call. The cache also
listens to the bus itself (:meth:`RenderedChannels.apply`), to free what it holds for a
customer at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from unitysvc_server.catalog.model import UpstreamChannel
from unitysvc_server.domain.caller_context import CallerContext
from unitysvc_server.invalidation import Invalidation

__all__ = ["RenderKey", "Rendered", "RenderedChannels"]

#: (customer id, service id, channel name, enrollment id or ``None``).
RenderKey = tuple[uuid.UUID, uuid.UUID, str, uuid.UUID | None]


@dataclass(frozen=True, slots=True)
class Rendered:
    """A channel rendered for one caller.

    Attributes:
        channel: The catalog's channel object it was rendered from (a reloaded catalog
            has new ones).
        context: The caller context it was rendered from.
        config: The rendered configuration (``base_url``, ``api_key``, ...).
        secrets: ``(namespace, name, clear value)`` of every secret it used.
    """

    channel: UpstreamChannel
    context: CallerContext
    config: dict[str, Any]
    secrets: tuple[tuple[str, str, str], ...]

    def __repr__(self) -> str:
        # Never the clear values.
        return f"Rendered(channel={self.channel.name!r}, secrets={len(self.secrets)})"


class RenderedChannels:
    """The per-process cache of :class:`Rendered` channels (see the module docs).

    Args:
        max_entries: Beyond this the cache is emptied (bounded memory, simply).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._entries: dict[RenderKey, Rendered] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self, key: RenderKey, channel: UpstreamChannel, context: CallerContext
    ) -> Rendered | None:
        """The entry for ``key`` if it was rendered from this ``channel`` and ``context``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.channel is not channel or entry.context is not context:
            del self._entries[key]
            return None
        return entry

    def put(self, key: RenderKey, entry: Rendered) -> None:
        """Keep ``entry`` under ``key``."""
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = entry

    def apply(self, invalidation: Invalidation) -> None:
        """Drop a customer's entries, or all of them (an invalidation-bus listener)."""
        if invalidation.kind == "key":
            return  # a key's revocation changes no secret
        try:
            customer = uuid.UUID(invalidation.value)
        except ValueError:
            customer = None
        if customer is None or invalidation.kind == "all":
            self._entries.clear()
            return
        for key in [k for k in self._entries if k[0] == customer]:
            del self._entries[key]

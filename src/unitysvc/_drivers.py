"""Drivers: perform a flow's effects with a sync or an async httpx client.

These two classes are the only place where sync and async code differ; everything
they drive is written once in :mod:`unitysvc._core` and the resource modules.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from unitysvc._core import Close, Emit, Flow, PageFlow, Send

T = TypeVar("T")


@dataclass(slots=True)
class Outcome:
    """What an effect produced: a value, or an exception to throw into the flow."""

    value: Any = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Done:
    """The flow returned ``value``."""

    value: Any


_NOTHING = Outcome()


def advance(flow: Any, outcome: Outcome) -> Any:
    """Resume ``flow`` with ``outcome``; return its next effect or :class:`Done`."""
    try:
        if outcome.error is not None:
            return flow.throw(outcome.error)
        return flow.send(outcome.value)
    except StopIteration as stop:
        return Done(stop.value)


class SyncDriver:
    """Runs flows on an ``httpx.Client``."""

    is_async = False

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def perform(self, effect: Any) -> Outcome:
        """Carry out one effect."""
        if isinstance(effect, Send):
            try:
                return Outcome(self.http.send(effect.request, stream=effect.stream))
            except httpx.HTTPError as exc:
                return Outcome(error=exc)
        if isinstance(effect, Close):
            effect.response.close()
        else:
            time.sleep(effect.seconds)
        return _NOTHING

    def run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` to completion and return its value."""
        outcome = _NOTHING
        while not isinstance(effect := advance(flow, outcome), Done):
            outcome = self.perform(effect)
        return effect.value  # type: ignore[no-any-return]

    def iterate(self, flow: PageFlow[T]) -> Iterator[T]:
        """Drive a paging flow, yielding every item it emits."""
        outcome = _NOTHING
        while not isinstance(effect := advance(flow, outcome), Done):
            if isinstance(effect, Emit):
                yield from effect.items
                outcome = _NOTHING
            else:
                outcome = self.perform(effect)


class AsyncDriver:
    """Runs flows on an ``httpx.AsyncClient``."""

    is_async = True

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def perform(self, effect: Any) -> Outcome:
        """Carry out one effect."""
        if isinstance(effect, Send):
            try:
                return Outcome(await self.http.send(effect.request, stream=effect.stream))
            except httpx.HTTPError as exc:
                return Outcome(error=exc)
        if isinstance(effect, Close):
            await effect.response.aclose()
        else:
            # Imported here: only retrying async clients need it, and asyncio is a
            # sizeable import that sync users would otherwise pay for.
            import asyncio

            await asyncio.sleep(effect.seconds)
        return _NOTHING

    async def run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` to completion and return its value."""
        outcome = _NOTHING
        while not isinstance(effect := advance(flow, outcome), Done):
            outcome = await self.perform(effect)
        return effect.value  # type: ignore[no-any-return]

    async def iterate(self, flow: PageFlow[T]) -> AsyncIterator[T]:
        """Drive a paging flow, yielding every item it emits."""
        outcome = _NOTHING
        while not isinstance(effect := advance(flow, outcome), Done):
            if isinstance(effect, Emit):
                for item in effect.items:
                    yield item
                outcome = _NOTHING
            else:
                outcome = await self.perform(effect)

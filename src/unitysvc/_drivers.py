"""Drivers: perform a flow's effects with a sync or an async httpx client.

These two classes are the only place where sync and async code differ; everything
they drive is written once in :mod:`unitysvc._core` and the resource modules.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from unitysvc._core import Close, Emit, Flow, PageFlow, Save, Send

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


@contextmanager
def _replacing(path: Path) -> Iterator[IO[bytes]]:
    """A file beside ``path`` that replaces it when the block ends without error."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


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
        elif isinstance(effect, Save):
            try:
                if not effect.response.is_success:
                    effect.response.read()
                    return Outcome(effect.response)
                with _replacing(effect.path) as file:
                    for chunk in effect.response.iter_bytes():
                        file.write(chunk)
                return Outcome(effect.response)
            except (httpx.HTTPError, OSError) as exc:
                return Outcome(error=exc)
            finally:
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
        elif isinstance(effect, Save):
            try:
                if not effect.response.is_success:
                    await effect.response.aread()
                    return Outcome(effect.response)
                # Local file writes stay synchronous: chunks are small and the disk is
                # not the network; the body itself is read asynchronously.
                with _replacing(effect.path) as file:
                    async for chunk in effect.response.aiter_bytes():
                        file.write(chunk)
                return Outcome(effect.response)
            except (httpx.HTTPError, OSError) as exc:
                return Outcome(error=exc)
            finally:
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

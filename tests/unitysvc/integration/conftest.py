"""Fixtures for SDK tests against a real platform (LocalPlatform) over real sockets.

The ``client`` fixture is parametrized over the sync ``Client`` and the
``AsyncClient``: the async one is wrapped in :class:`AsyncBridge`, which runs each
coroutine on a private event loop, so one test body checks both flavours.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import unitysvc
from unitysvc_server.testing import LocalPlatform


class _Loop:
    """A private event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


class AsyncBridge:
    """Presents an async SDK object with a sync face, for shared test bodies."""

    def __init__(self, target: Any, loop: _Loop) -> None:
        self._target = target
        self._loop = loop

    @property
    def unwrapped(self) -> Any:
        return self._target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not isinstance(value, type):
            return lambda *a, **k: self._wrap(value(*a, **k))
        return self._wrap(value)

    def _wrap(self, value: Any) -> Any:
        if inspect.iscoroutine(value):
            return self._wrap(self._loop.run(value))
        if isinstance(value, AsyncIterator):
            return iter(self._loop.run(_drain(value)))
        if type(value).__module__.startswith("unitysvc.") and not type(value).__module__.startswith(
            "unitysvc.models"
        ):
            return AsyncBridge(value, self._loop)
        return value

    def __iter__(self) -> Iterator[Any]:
        return (self._wrap(item) for item in self._target)

    def __enter__(self) -> Any:
        return self._wrap(self._loop.run(self._target.__aenter__()))

    def __exit__(self, *exc: object) -> None:
        self._loop.run(self._target.__aexit__(*exc))

    def __len__(self) -> int:
        return len(self._target)

    def __getitem__(self, index: int) -> Any:
        return self._wrap(self._target[index])


async def _drain(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


@pytest.fixture(scope="package")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform(demo=True) as running:
        yield running


@pytest.fixture(scope="package")
def api_key(platform: LocalPlatform) -> str:
    return platform.create_customer("sdk-tests")


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, platform: LocalPlatform, api_key: str) -> Iterator[Any]:
    """A ``Client`` or a bridged ``AsyncClient`` for the same customer."""
    if request.param == "sync":
        with platform.client(api_key) as sync_client:
            yield sync_client
        return
    loop = _Loop()
    async_client = platform.async_client(api_key)
    try:
        yield AsyncBridge(async_client, loop)
    finally:
        loop.run(async_client.close())
        loop.close()


@pytest.fixture(params=["sync", "async"])
def fresh_client(request: pytest.FixtureRequest, platform: LocalPlatform) -> Iterator[Any]:
    """Like ``client``, for a customer of its own: state other tests set is not seen."""
    key = platform.create_customer(f"sdk-{uuid.uuid4().hex[:12]}")
    if request.param == "sync":
        with platform.client(key) as sync_client:
            yield sync_client
        return
    loop = _Loop()
    async_client = platform.async_client(key)
    try:
        yield AsyncBridge(async_client, loop)
    finally:
        loop.run(async_client.close())
        loop.close()


@pytest.fixture
def anonymous(platform: LocalPlatform) -> Iterator[unitysvc.Client]:
    with platform.client() as anon:
        yield anon


@pytest.fixture
def demo_service(client: Any) -> Any:
    """Look up a demo service by its short name (``echo``, ``demo-down`` ...)."""

    def find(short_name: str) -> Any:
        for svc in client.groups.iter_services("all_services", search=short_name):
            if svc.name.split("/")[-1] == short_name:
                return client.services.get(svc.id)
        raise AssertionError(f"demo service {short_name} not found")

    return find


@pytest.fixture
def service_id() -> Any:
    """``service_id(client, name)``: the id of the demo service ``name``, as a string."""

    def find(client: Any, name: str) -> str:
        for svc in client.groups.iter_services("all_services", search=name):
            if svc.name == name:
                return str(svc.id)
        raise AssertionError(f"demo service {name} not found")

    return find

"""The async surface is real ``async def`` methods, built from the same operations as
the sync one: ``inspect`` and ``unittest.mock.create_autospec`` see coroutine functions
with the sync side's signatures and docstrings."""

from __future__ import annotations

import importlib
import inspect
import unittest.mock
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import unitysvc
from unitysvc._ops import Bound

KEY = "svcpass_" + "k" * 32

#: (sync class, async class) of every public resource, record and wrapped target.
PAIRS = [
    ("unitysvc", "Client", "AsyncClient"),
    ("unitysvc.secrets", "Secrets", "AsyncSecrets"),
    ("unitysvc.groups", "Groups", "AsyncGroups"),
    ("unitysvc.groups", "Group", "AsyncGroup"),
    ("unitysvc.services", "Services", "AsyncServices"),
    ("unitysvc.services", "Service", "AsyncService"),
    ("unitysvc.enrollments", "Enrollments", "AsyncEnrollments"),
    ("unitysvc.enrollments", "Enrollment", "AsyncEnrollment"),
    ("unitysvc.aliases", "Aliases", "AsyncAliases"),
    ("unitysvc.recurrent_requests", "RecurrentRequests", "AsyncRecurrentRequests"),
    ("unitysvc.request_logs", "RequestLogs", "AsyncRequestLogs"),
    ("unitysvc.preferences", "Preferences", "AsyncPreferences"),
    ("unitysvc.usage", "Usage", "AsyncUsage"),
    ("unitysvc.budgets", "Budgets", "AsyncBudgets"),
    ("unitysvc.chains", "Chains", "AsyncChains"),
    ("unitysvc.chains", "Chain", "AsyncChain"),
    ("unitysvc.broadcasts", "Broadcasts", "AsyncBroadcasts"),
    ("unitysvc.broadcasts", "Broadcast", "AsyncBroadcast"),
    ("unitysvc.files", "Files", "AsyncFiles"),
    ("unitysvc._gateway", "SyncWrappedTarget", "AsyncWrappedTarget"),
]

#: Methods whose async flavour returns an async context manager (like
#: ``httpx.AsyncClient.stream``) or makes no request, so it is a plain ``def``.
NOT_COROUTINES = {
    "stream",
    "to_dict",
    "logged",
    "cached",
    "with_failover",
    "with_tee",
    "delayed",
    "recurrent",
    "with_options",
}


def _classes() -> Iterator[tuple[type[Any], type[Any]]]:
    for module, sync_name, async_name in PAIRS:
        loaded = importlib.import_module(module)
        yield getattr(loaded, sync_name), getattr(loaded, async_name)


def _operations(cls: type[Any]) -> dict[str, Callable[..., Any]]:
    """The public methods a class defines or inherits from the SDK (not ``object``)."""
    found = {}
    for name in dir(cls):
        if name.startswith("_") or name in {"from_env", "close", "aclose"}:
            continue
        value = inspect.getattr_static(cls, name)
        if inspect.isfunction(value):
            found[name] = getattr(cls, name)
    return found


@pytest.mark.parametrize(("sync_cls", "async_cls"), list(_classes()), ids=lambda c: c.__name__)
def test_every_async_method_is_a_coroutine_function_matching_the_sync_one(
    sync_cls: type[Any], async_cls: type[Any]
) -> None:
    sync_ops = _operations(sync_cls)
    async_ops = _operations(async_cls)
    assert set(sync_ops) == set(async_ops)
    assert sync_ops, sync_cls
    for name, method in async_ops.items():
        where = f"{async_cls.__name__}.{name}"
        twin = sync_ops[name]
        if name.startswith("iter"):
            assert inspect.isasyncgenfunction(method), where
            assert not inspect.isgeneratorfunction(twin), where
        elif name in NOT_COROUTINES:
            assert not inspect.iscoroutinefunction(method), where
        else:
            assert inspect.iscoroutinefunction(method), where
            assert not inspect.iscoroutinefunction(twin), f"{sync_cls.__name__}.{name}"
        assert method.__doc__ and method.__doc__ == twin.__doc__, where
        assert method.__name__ == name
        sync_sig, async_sig = inspect.signature(twin), inspect.signature(method)
        assert list(async_sig.parameters.values()) == list(sync_sig.parameters.values()), where
        # Parameters are typed (JSON results may still be ``Any``, as ``json.loads``).
        for param in async_sig.parameters.values():
            assert "Any" not in str(param.annotation), f"{where}({param.name})"


def test_create_autospec_of_the_async_client_gives_async_mocks() -> None:
    mock = unittest.mock.create_autospec(unitysvc.AsyncClient, instance=True)
    assert isinstance(mock.dispatch, unittest.mock.AsyncMock)
    assert isinstance(mock.resolve, unittest.mock.AsyncMock)
    for resource in ("secrets", "groups", "enrollments", "aliases", "recurrent_requests"):
        assert isinstance(getattr(mock, resource).list, unittest.mock.AsyncMock), resource
    assert isinstance(mock.services.dispatch, unittest.mock.AsyncMock)
    assert isinstance(mock.secrets.get, unittest.mock.AsyncMock)
    # The spec keeps the signature: a wrong argument fails as it would for real.
    with pytest.raises(TypeError):
        mock.secrets.get("A", "B", "C")


async def test_create_autospec_of_a_resource_instance_is_awaitable() -> None:
    async with unitysvc.AsyncClient(KEY, base_url="http://127.0.0.1:9/v1") as client:
        secrets = unittest.mock.create_autospec(client.secrets)
        assert isinstance(secrets.get, unittest.mock.AsyncMock)
        secrets.get.return_value = "stub"
        assert await secrets.get("OPENAI_API_KEY") == "stub"
        secrets.get.assert_awaited_once_with("OPENAI_API_KEY")


def test_a_resource_defined_once_gets_both_flavours() -> None:
    """The recipe for a new resource: one generic class, two one-line subclasses."""
    from typing import Generic, Unpack

    from unitysvc._core import Flow, RequestOptions, parse_json
    from unitysvc._ops import Async, M, Sync, op
    from unitysvc._resource import Resource

    class _PingOps(Resource[M], Generic[M]):
        @op
        def ping(self, *, loud: bool = False, **options: Unpack[RequestOptions]) -> Flow[object]:
            """Ping the server."""
            response = yield from self._call("GET", "/ping", options=options)
            return parse_json(response)

    class Ping(_PingOps[Sync]):
        """Sync."""

    class AsyncPing(_PingOps[Async]):
        """Async."""

    assert issubclass(Ping, Bound)
    assert not inspect.iscoroutinefunction(Ping.ping)
    assert inspect.iscoroutinefunction(AsyncPing.ping)
    assert AsyncPing.ping.__doc__ == "Ping the server."
    assert str(inspect.signature(AsyncPing.ping)).startswith("(self, *, loud: 'bool' = False")

"""Per-call options, ``with_options``, the caller's own httpx client, and the SDK's
errors for bad arguments and malformed answers — over a real loopback socket."""

from __future__ import annotations

import inspect
import threading
import uuid

import httpx
import pytest
from _servers import ScriptedServer

import unitysvc
from unitysvc import APIResponseValidationError, APITimeoutError, ValidationError
from unitysvc._core import NOT_GIVEN, NotGiven

KEY = "svcpass_optionstest_0123456789abcdef"
SECRETS = {"data": [], "count": 0}
GROUP = {
    "id": str(uuid.uuid4()),
    "name": "team",
    "display_name": "Team",
    "description": "d",
    "enabled": True,
    "owner_type": "customer",
    "editable": True,
    "group_type": "collection",
}
SECRET = {
    "name": "A",
    "id": str(uuid.uuid4()),
    "owner_type": "customer",
    "role_id": None,
    "owner_id": None,
    "sensitive": True,
    "created_at": "2026-11-30T00:00:00Z",
    "updated_at": None,
    "last_used_at": None,
}


def _client(server: ScriptedServer, **kwargs: object) -> unitysvc.Client:
    return unitysvc.Client(KEY, base_url=f"{server.url}/v1", **kwargs)  # type: ignore[arg-type]


def test_extra_headers_query_and_idempotency_key_reach_the_wire(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.respond(json=SECRETS)
    scripted_server.respond(json={"ok": True})
    with _client(scripted_server) as client:
        client.secrets.list(
            limit=5, extra_headers={"X-Trace": "t1"}, extra_query={"tenant": "blue"}
        )
        client.dispatch("p/svc", json={}, idempotency_key="call-1", extra_headers={"X-A": "b"})
    listing, dispatched = scripted_server.requests
    assert listing.headers["x-trace"] == "t1"
    assert listing.query == {"skip": ["0"], "limit": ["5"], "tenant": ["blue"]}
    assert "idempotency-key" not in listing.headers  # a GET needs none
    assert dispatched.headers["idempotency-key"] == "call-1"
    assert dispatched.headers["x-a"] == "b"


def test_idempotency_key_replaces_the_random_one_of_a_creating_post(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.respond(json=GROUP, times=2)
    with _client(scripted_server) as client:
        client.groups.create(name="team")
        client.groups.create(name="team", idempotency_key="create-team-1")
    random_key, given_key = (r.headers["idempotency-key"] for r in scripted_server.requests)
    assert given_key == "create-team-1"
    assert str(uuid.UUID(random_key)) == random_key


def test_per_call_timeout_overrides_the_clients(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json=SECRETS, delay=1.0)
    with (
        _client(scripted_server, timeout=30, max_retries=0) as client,
        pytest.raises(APITimeoutError),
    ):
        client.secrets.list(timeout=0.2)


def test_options_apply_to_every_page_of_an_iterator(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json={"data": [SECRET], "count": 2})
    scripted_server.respond(json={"data": [], "count": 2})
    with _client(scripted_server) as client:
        list(client.secrets.iter(page_size=1, extra_headers={"X-Page": "yes"}))
    assert [r.headers.get("x-page") for r in scripted_server.requests] == ["yes", "yes"]


async def test_async_methods_take_the_same_options(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json=SECRETS)
    async with unitysvc.AsyncClient(KEY, base_url=f"{scripted_server.url}/v1") as client:
        await client.secrets.list(extra_headers={"X-Async": "1"}, extra_query={"q": "x"})
    (request,) = scripted_server.requests
    assert request.headers["x-async"] == "1"
    assert request.query["q"] == ["x"]


def test_every_method_accepts_the_request_options() -> None:
    import importlib

    from test_async_surface import PAIRS, _operations

    for module, sync_name, async_name in PAIRS:
        for name in (sync_name, async_name):
            cls = getattr(importlib.import_module(module), name)
            for method_name, method in _operations(cls).items():
                params = inspect.signature(method).parameters
                options = params.get("options")
                if options is None:
                    continue  # local helpers: wrappers, to_dict, with_options
                assert options.kind is inspect.Parameter.VAR_KEYWORD, method_name
                assert options.annotation in {
                    "Unpack[RequestOptions]",
                    "Unpack[RequestExtras]",
                }, f"{name}.{method_name}"
                if options.annotation == "Unpack[RequestExtras]":
                    # These have a ``timeout`` of their own.
                    assert "timeout" in params, f"{name}.{method_name}"


def test_with_options_returns_a_configured_copy(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(503, json={"detail": "busy"}, times=None)
    with _client(scripted_server, max_retries=2, default_headers={"X-Team": "a"}) as client:
        quick = client.with_options(max_retries=0, timeout=4, default_headers={"X-Team": "b"})
        with pytest.raises(unitysvc.ServerError):
            quick.secrets.list()
        assert len(scripted_server.requests) == 1  # no retries on the copy
        assert scripted_server.requests[0].headers["x-team"] == "b"
        assert scripted_server.requests[0].headers["authorization"] == f"Bearer {KEY}"
        assert client.max_retries == 2 and quick.max_retries == 0
        assert quick._ctx.core.http is client._ctx.core.http  # one pool
        quick.close()  # does not close the shared pool
        with pytest.raises(unitysvc.ServerError):
            client.with_options(max_retries=1).secrets.list()
        assert len(scripted_server.requests) == 3


def test_a_callers_http_client_is_never_modified(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json=SECRETS, times=2)
    own = httpx.Client(base_url="http://elsewhere.invalid/api", headers={"X-Own": "yes"})
    before_base, before_headers = own.base_url, dict(own.headers)
    with _client(scripted_server, http_client=own, default_headers={"X-Team": "t"}) as sdk:
        sdk.secrets.list()
        sdk.with_options(timeout=3).secrets.list()
    assert own.base_url == before_base
    assert dict(own.headers) == before_headers
    first = scripted_server.requests[0]
    assert first.path == "/v1/secrets/"
    assert first.headers["x-own"] == "yes" and first.headers["x-team"] == "t"
    assert first.headers["user-agent"] == f"unitysvc-python/{unitysvc.__version__}"
    own.close()


def test_a_user_agent_the_caller_set_is_kept(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json=SECRETS)
    own = httpx.Client(headers={"User-Agent": "my-app/1.0"})
    with _client(scripted_server, http_client=own) as sdk:
        sdk.secrets.list()
    assert scripted_server.requests[0].headers["user-agent"] == "my-app/1.0"
    own.close()


def test_bad_secret_name_is_a_validation_error_naming_field_and_rule(
    scripted_server: ScriptedServer,
) -> None:
    with _client(scripted_server) as client, pytest.raises(ValidationError) as caught:
        client.secrets.set("bad-name", "v")
    error = caught.value
    assert error.field == "name"
    assert error.rule is not None and "^[A-Z_][A-Z0-9_]*$" in error.rule
    assert "name='bad-name'" in str(error) and "'BAD_NAME'" in str(error)
    assert error.request_id is None and error.summary.startswith("name: ")
    assert scripted_server.requests == []  # refused before sending


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.services.get("x").cached(ttl="5 minutes"), "ttl"),
        (lambda c: list(c.secrets.iter(page_size=0)), "page_size"),
        (lambda c: c.groups.list(owner="mine"), "owner"),
        (lambda c: c.resolve(path="g/llm", gateway="ftp"), "gateway"),
        (lambda c: c.dispatch("p/x", json={}, data=b"x"), "data"),
        (lambda c: c.with_options(max_retries=-1), "max_retries"),
    ],
)
def test_every_local_check_raises_validation_error(
    scripted_server: ScriptedServer, call: object, field: str
) -> None:
    scripted_server.respond(json={"id": str(uuid.uuid4()), "name": "svc"}, times=None)
    with _client(scripted_server) as client, pytest.raises(ValidationError) as caught:
        call(client)  # type: ignore[operator]
    assert caught.value.field == field


def test_wrong_key_prefix_is_a_validation_error_that_hides_the_key() -> None:
    with pytest.raises(ValidationError) as caught:
        unitysvc.Client("sk-live-" + "s" * 40)
    assert caught.value.field == "api_key"
    assert "s" * 10 not in str(caught.value)


def test_a_success_with_a_malformed_body_is_an_sdk_error(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(
        200, body=b"<html>Sign in to the proxy</html>", headers={"X-Request-ID": "req-42"}
    )
    scripted_server.respond(200, json={"data": "not a list"})
    with _client(scripted_server) as client:
        with pytest.raises(APIResponseValidationError) as caught:
            client.secrets.list()
        error = caught.value
        assert error.status_code == 200
        assert error.request_id == "req-42"
        assert "<html>Sign in" in str(error) and "req-42" in str(error)
        assert error.response_body == b"<html>Sign in to the proxy</html>"
        with pytest.raises(APIResponseValidationError, match="not a valid SecretsPublic"):
            client.secrets.list()


def test_not_given_is_a_typed_sentinel_and_update_sends_only_what_was_given(
    scripted_server: ScriptedServer,
) -> None:
    from unitysvc.groups import Groups

    default = inspect.signature(Groups.update).parameters["description"].default
    assert default is NOT_GIVEN and isinstance(default, NotGiven) and not default
    scripted_server.respond(json=GROUP, times=2)
    with _client(scripted_server) as client:
        client.groups.update(GROUP["id"], description=None)
        client.groups.update(GROUP["id"], enabled=False)
    first, second = (r.json() for r in scripted_server.requests)
    assert first == {"description": None}
    assert second == {"enabled": False}


def test_stream_and_dispatch_share_one_flow_told_explicitly_whether_to_stream(
    scripted_server: ScriptedServer,
) -> None:
    """``stream()`` leaves the body unread and ``dispatch()`` reads it, with no
    context variable between the method and the flow."""
    import unitysvc._ops as ops

    assert not hasattr(ops, "streaming") and "ContextVar" not in inspect.getsource(ops)
    gate = threading.Event()
    scripted_server.respond(200, body=[b"first\n", gate, b"second\n"])
    scripted_server.respond(200, body=b"whole")
    with _client(scripted_server) as client:
        with client.stream("p/svc", json={}) as response:
            lines = response.iter_lines()
            assert next(lines) == "first"  # the rest is still held back
            gate.set()
            assert list(lines) == ["second"]
        assert client.dispatch("p/svc", json={}).text == "whole"

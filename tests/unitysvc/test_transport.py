"""The SDK's transport over a real loopback socket: retries, errors, timeouts, headers, logs.

Every fault here is produced by a real HTTP/1.1 server (``scripted_server``), not a
mock, so the SDK's whole network path — httpx, the retry loop, error mapping — runs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
from _servers import ScriptedServer

import unitysvc
from unitysvc import (
    APIConnectionError,
    APITimeoutError,
    NotFoundError,
    RateLimitError,
    UnitysvcSDKError,
)
from unitysvc.exceptions import ServerError

KEY = "svcpass_transporttest_0123456789abcdef"
SECRETS = {"data": [], "count": 0}
ALIAS = {
    "id": str(uuid.uuid4()),
    "customer_id": str(uuid.uuid4()),
    "name": "fast",
    "target_path": "g/llm",
    "created_at": "2026-11-30T00:00:00Z",
}


@pytest.fixture
def client(scripted_server: ScriptedServer) -> Iterator[unitysvc.Client]:
    with unitysvc.Client(KEY, base_url=f"{scripted_server.url}/v1", timeout=5) as sdk:
        yield sdk


def test_429_with_retry_after_is_retried(
    scripted_server: ScriptedServer, client: unitysvc.Client
) -> None:
    scripted_server.respond(429, headers={"Retry-After": "0"}, json={"detail": "slow down"})
    scripted_server.respond(json=SECRETS)
    page = client.secrets.list()
    assert page.count == 0
    assert [r.path for r in scripted_server.requests] == ["/v1/secrets/", "/v1/secrets/"]


def test_503_then_200_is_retried_and_gives_up_after_max_retries(
    scripted_server: ScriptedServer,
) -> None:
    scripted_server.respond(
        503,
        headers={"Retry-After": "0", "x-request-id": "req-123"},
        json={"detail": "down"},
        times=2,
    )
    with (
        unitysvc.Client(KEY, base_url=f"{scripted_server.url}/v1", max_retries=1) as sdk,
        pytest.raises(ServerError) as caught,
    ):
        sdk.secrets.list()
    assert len(scripted_server.requests) == 2
    error = caught.value
    assert error.status_code == 503
    assert error.request_id == "req-123"
    assert error.detail == {"detail": "down"}
    assert isinstance(error, UnitysvcSDKError)


def test_creating_post_reuses_one_idempotency_key_across_retries(
    scripted_server: ScriptedServer, client: unitysvc.Client
) -> None:
    scripted_server.respond(502, headers={"Retry-After": "0"}, json={"detail": "bad gateway"})
    scripted_server.respond(201, json=ALIAS)
    alias = client.aliases.create({"name": "fast", "target_path": "g/llm"})
    assert alias.name == "fast"
    first, second = scripted_server.requests
    assert first.method == second.method == "POST"
    key = first.headers["idempotency-key"]
    assert uuid.UUID(key)
    assert second.headers["idempotency-key"] == key
    # A new call is a new operation: a new key.
    scripted_server.respond(201, json=ALIAS)
    client.aliases.create({"name": "fast", "target_path": "g/llm"})
    assert scripted_server.requests[-1].headers["idempotency-key"] != key


def test_post_without_idempotency_key_is_not_retried(
    scripted_server: ScriptedServer, client: unitysvc.Client
) -> None:
    scripted_server.respond(503, headers={"Retry-After": "0"}, body=b"upstream down")
    scripted_server.respond(200, json={"never": "sent"})
    response = client.dispatch("p/some-service/chat", json={"q": 1})
    # Gateway answers are returned, not raised, and a plain POST is not repeated.
    assert response.status_code == 503
    assert len(scripted_server.requests) == 1
    assert "idempotency-key" not in scripted_server.requests[0].headers


def test_4xx_other_than_429_is_never_retried(
    scripted_server: ScriptedServer, client: unitysvc.Client
) -> None:
    scripted_server.respond(404, json={"detail": "Secret not found"}, times=None)
    with pytest.raises(NotFoundError) as caught:
        client.secrets.get("MISSING")
    assert len(scripted_server.requests) == 1
    assert "Secret not found" in str(caught.value)


def test_rate_limit_error_after_retries_are_exhausted(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(429, headers={"Retry-After": "0"}, json={"detail": "slow"}, times=3)
    with (
        unitysvc.Client(KEY, base_url=f"{scripted_server.url}/v1", max_retries=2) as sdk,
        pytest.raises(RateLimitError),
    ):
        sdk.secrets.list()
    assert len(scripted_server.requests) == 3


def test_connection_failure_is_an_sdk_error(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(close_without_response=True, times=None)
    with (
        unitysvc.Client(KEY, base_url=f"{scripted_server.url}/v1", max_retries=0) as sdk,
        pytest.raises(APIConnectionError) as caught,
    ):
        sdk.secrets.list()
    assert isinstance(caught.value, UnitysvcSDKError)
    assert not isinstance(caught.value, httpx.HTTPError)


def test_connection_failure_of_a_get_is_retried(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(close_without_response=True)
    scripted_server.respond(json=SECRETS)
    with unitysvc.Client(KEY, base_url=f"{scripted_server.url}/v1", max_retries=1) as sdk:
        assert sdk.secrets.list().count == 0
    assert len(scripted_server.requests) == 2


def test_slow_response_past_the_timeout(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json=SECRETS, delay=1.0)
    with (
        unitysvc.Client(
            KEY, base_url=f"{scripted_server.url}/v1", timeout=0.2, max_retries=0
        ) as sdk,
        pytest.raises(APITimeoutError),
    ):
        sdk.secrets.list()


def test_refused_port_is_a_connection_error() -> None:
    import socket

    with socket.socket() as sock:  # bind then close: nothing listens on this port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        unitysvc.Client(KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0) as sdk,
        pytest.raises(APIConnectionError),
    ):
        sdk.secrets.list()


def test_headers_sent_on_every_call(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json=SECRETS)
    with unitysvc.Client(
        KEY, base_url=f"{scripted_server.url}/v1", default_headers={"X-Team": "blue"}
    ) as sdk:
        sdk.secrets.list()
    (request,) = scripted_server.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == f"unitysvc-python/{unitysvc.__version__}"
    assert request.headers["x-team"] == "blue"


def test_bring_your_own_http_client(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json=SECRETS)
    own = httpx.Client(headers={"X-Own": "yes"})
    with unitysvc.Client(KEY, base_url=f"{scripted_server.url}/v1", http_client=own) as sdk:
        sdk.secrets.list()
    assert scripted_server.requests[0].headers["x-own"] == "yes"
    # The caller's client is the caller's to close.
    assert not own.is_closed
    own.close()


def test_debug_log_never_shows_the_key_or_full_bodies(
    scripted_server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret_value = "sk-live-" + "v" * 80
    scripted_server.respond(200, json={"value": secret_value})
    scripted_server.respond(503, headers={"Retry-After": "0"}, json={"detail": "x"})
    scripted_server.respond(json=SECRETS)
    with (
        caplog.at_level(logging.DEBUG, logger="unitysvc"),
        unitysvc.Client(KEY, base_url=f"{scripted_server.url}/v1") as sdk,
    ):
        sdk.dispatch("p/svc", json={"value": secret_value})
        sdk.secrets.list()
    text = caplog.text
    assert "/v1/secrets/" in text and "503" in text and "200" in text
    assert "retry" in text.lower()
    assert KEY not in text
    assert secret_value not in text


async def test_async_client_retries_the_same_way(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(503, headers={"Retry-After": "0"}, json={"detail": "down"})
    scripted_server.respond(json=SECRETS)
    async with unitysvc.AsyncClient(KEY, base_url=f"{scripted_server.url}/v1") as sdk:
        page = await sdk.secrets.list()
    assert page.count == 0
    assert len(scripted_server.requests) == 2


async def test_async_timeout_is_an_sdk_error(scripted_server: ScriptedServer) -> None:
    scripted_server.respond(json=SECRETS, delay=1.0)
    async with unitysvc.AsyncClient(
        KEY, base_url=f"{scripted_server.url}/v1", timeout=0.2, max_retries=0
    ) as sdk:
        with pytest.raises(APITimeoutError):
            await sdk.secrets.list()

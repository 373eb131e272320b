"""``Core.request`` builds control-plane URLs itself (one parse): same result as httpx's merge."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import unitysvc
from unitysvc._client import shared_ssl_context
from unitysvc._core import query_params

KEY = "svcpass_" + "k" * 32

_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#\x00"), min_size=1, max_size=8
)
_scalar = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_params = st.none() | st.dictionaries(
    st.text(min_size=1, max_size=5), _scalar | st.lists(st.integers(), max_size=2), max_size=4
)


def outcome(build: Callable[[], httpx.Request]) -> httpx.URL | type[Exception]:
    """The URL built, or the type of the error raised (e.g. ``httpx.InvalidURL``)."""
    try:
        return build().url
    except Exception as exc:
        return type(exc)


def httpx_merge(client: unitysvc.Client, path: str, params: dict[str, Any] | None) -> httpx.Request:
    """The request httpx itself builds from the SDK's base URL, ``path`` and ``params``
    (with the httpx client's own query parameters, as the SDK's request gets them)."""
    clean = query_params(params) if params else None
    http: Any = client._ctx.core.http
    # The reference client only builds requests: the process's one TLS context, not a
    # new one per generated example (~40 ms each).
    with httpx.Client(
        base_url=client.base_url, params=http.params, verify=shared_ssl_context()
    ) as reference:
        return reference.build_request("GET", path, params=clean)


@pytest.fixture(scope="module")
def client_for() -> Iterator[Callable[[str], unitysvc.Client]]:
    """One client per base URL for the whole module.

    Building a request does not change a client, and a new client costs ~40 ms (its
    TLS context): one per generated example made the property test below take seconds.
    """
    clients: dict[str, unitysvc.Client] = {}

    def get(base_url: str) -> unitysvc.Client:
        if base_url not in clients:
            clients[base_url] = unitysvc.Client(KEY, base_url=base_url)
        return clients[base_url]

    yield get
    for client in clients.values():
        client.close()


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:9/v1", "http://Example.COM:80/v1/", "https://h/api/v1", "http://h/v1?x=1"],
)
@settings(max_examples=100, deadline=None)
@given(segments=st.lists(_segment, min_size=1, max_size=3), params=_params)
def test_control_plane_url_matches_httpx_merge(
    client_for: Callable[[str], unitysvc.Client],
    base_url: str,
    segments: list[str],
    params: dict[str, Any] | None,
) -> None:
    path = "/" + "/".join(segments)
    client = client_for(base_url)
    ours = outcome(lambda: client._ctx.core.request("GET", path, params=params))
    assert ours == outcome(lambda: httpx_merge(client, path, params))


def test_timeout_extension_follows_the_client_and_the_call() -> None:
    with unitysvc.Client(KEY, base_url="http://127.0.0.1:9/v1", timeout=7) as client:
        core = client._ctx.core
        assert core.request("GET", "/secrets/").extensions["timeout"]["read"] == 7
        call = core.request("GET", "/secrets/", options={"timeout": 2.5})
        assert call.extensions["timeout"]["read"] == 2.5
        none = core.request("GET", "/secrets/", options={"timeout": None}).extensions["timeout"]
        assert none == {"connect": None, "read": None, "write": None, "pool": None}
        clone = client.with_options(timeout=3)
        assert clone._ctx.core.request("GET", "/a").extensions["timeout"]["read"] == 3


def test_query_in_path_and_client_params_take_httpx_path() -> None:
    http = httpx.Client(params={"tenant": "t1"})
    with unitysvc.Client(KEY, base_url="http://127.0.0.1:9/v1", http_client=http) as client:
        core = client._ctx.core
        request = core.request("GET", "/secrets/", params={"limit": 5})
        assert request.url.params == httpx.QueryParams({"tenant": "t1", "limit": "5"})
        for path in ("/secrets/?skip=1", "/a#frag", "//other/x"):
            request = core.request("GET", path, params={"limit": 5})
            assert request.url == httpx_merge(client, path, {"limit": 5}).url
    http.close()


def test_query_params_send_datetimes_as_iso_8601() -> None:
    from datetime import UTC, datetime

    moment = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    clean = query_params({"start_time": moment, "on": True, "off": False, "gone": None, "n": 3})
    iso = "2024-05-01T12:30:00+00:00"
    assert clean == {"start_time": iso, "on": "true", "off": "false", "n": 3}
    with unitysvc.Client(KEY, base_url="http://127.0.0.1:9/v1") as client:
        request = client._ctx.core.request("GET", "/request-logs", params={"start_time": moment})
        assert request.url.params["start_time"] == iso

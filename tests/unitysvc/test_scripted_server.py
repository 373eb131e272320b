"""The scripted test server itself (``tests/unitysvc/_servers.py``), driven by plain httpx."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from _servers import ScriptedServer


@pytest.fixture
def http(scripted_server: ScriptedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=scripted_server.url, timeout=5) as client:
        yield client


def test_records_requests(scripted_server: ScriptedServer, http: httpx.Client) -> None:
    scripted_server.respond(json={"ok": True})
    scripted_server.respond(204)
    response = http.post("/v1/x?a=1&a=2&b=", json={"k": "v"}, headers={"X-One": "1"})
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert response.headers["content-type"] == "application/json"
    # A request body of unknown length goes out chunked.
    assert http.put("/v1/y", content=iter([b"ab", b"cd"])).status_code == 204
    first, second = scripted_server.wait_for_requests(2)
    assert (first.method, first.path, first.target) == ("POST", "/v1/x", "/v1/x?a=1&a=2&b=")
    assert first.query == {"a": ["1", "2"], "b": [""]}
    assert first.headers["x-one"] == "1" and ("X-One", "1") in first.raw_headers
    assert first.json() == {"k": "v"}
    assert (second.method, second.body, second.headers["transfer-encoding"]) == (
        "PUT",
        b"abcd",
        "chunked",
    )
    assert first.connection == second.connection  # keep-alive
    assert first.received_at <= second.received_at
    assert scripted_server.unused_scripts == []


def test_matching_by_path_and_method_and_repeats(
    scripted_server: ScriptedServer, http: httpx.Client
) -> None:
    scripted_server.respond(503, path="/flaky", times=2)
    forever = scripted_server.respond(200, body=b"ok", path="/ok", method="get", times=None)
    assert http.get("/ok").text == "ok"
    assert [http.get("/flaky").status_code for _ in range(3)] == [503, 503, 500]
    assert http.get("/ok").text == "ok"
    assert forever.served == 2
    assert scripted_server.unused_scripts == [forever]
    (unscripted,) = scripted_server.unscripted
    assert unscripted.path == "/flaky"
    assert http.post("/ok").json() == {
        "detail": "scripted_server: no response scripted for POST /ok"
    }


def test_chunked_and_content_length_bodies(
    scripted_server: ScriptedServer, http: httpx.Client
) -> None:
    scripted_server.respond(body=b"whole")
    scripted_server.respond(body=[b"a", 0.001, b"", b"b"])
    scripted_server.respond(body=b"forced", chunked=True)
    first, second, third = (http.get("/") for _ in range(3))
    assert (first.text, first.headers["content-length"]) == ("whole", "5")
    assert (second.text, second.headers["transfer-encoding"]) == ("ab", "chunked")
    assert (third.text, third.headers["transfer-encoding"]) == ("forced", "chunked")


def test_delay_makes_the_client_time_out(
    scripted_server: ScriptedServer, http: httpx.Client
) -> None:
    scripted_server.respond(delay=0.3)
    with pytest.raises(httpx.ReadTimeout):
        http.get("/slow", timeout=0.05)


def test_close_without_response(scripted_server: ScriptedServer, http: httpx.Client) -> None:
    scripted_server.respond(close_without_response=True)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        http.get("/")
    assert len(scripted_server.requests) == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_reset_after_body_bytes(
    scripted_server: ScriptedServer, http: httpx.Client, chunked: bool
) -> None:
    gate = threading.Event()
    scripted_server.respond(body=[b"0123456789", gate, b"abcdef"], chunked=chunked, reset_after=12)
    with http.stream("GET", "/") as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"0123456789"
        gate.set()
        with pytest.raises(httpx.ReadError, match="reset"):
            list(chunks)


def test_new_connection_after_connection_close(
    scripted_server: ScriptedServer, http: httpx.Client
) -> None:
    scripted_server.respond(headers={"Connection": "close"}, times=None)
    http.get("/")
    http.get("/")
    first, second = scripted_server.requests
    assert (first.connection, second.connection) == (1, 2)


def test_wait_for_requests_times_out() -> None:
    with ScriptedServer() as server, pytest.raises(TimeoutError, match="0 of 1 requests"):
        server.wait_for_requests(1, timeout=0.05)


def test_a_gate_left_closed_fails_the_test_at_stop() -> None:
    server = ScriptedServer()
    server.start()
    try:
        server.respond(body=[b"x", threading.Event()], gate_timeout=0.1)
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(server.url, timeout=5)
    finally:
        with pytest.raises(RuntimeError, match="scripted server failed") as failed:
            server.stop()
    assert isinstance(failed.value.__cause__, TimeoutError)

"""``Idempotency-Key`` on POST: executed once, replayed, conflicts -- over HTTP."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest


@pytest.fixture(scope="module")
def platform_options() -> dict[str, Any]:
    return {"demo": False}


def alias_body(**overrides: Any) -> dict[str, Any]:
    return {"name": f"idem-{uuid.uuid4().hex[:10]}", "target_path": "g/llm", **overrides}


def aliases_named(api: httpx.Client, name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = api.get("/aliases/", params={"name": name}).json()["data"]
    return data


def test_replay_returns_the_stored_response_and_runs_once(api: httpx.Client) -> None:
    body = alias_body()
    key = str(uuid.uuid4())
    first = api.post("/aliases/", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    again = api.post("/aliases", json=body, headers={"Idempotency-Key": key})  # other slash form
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert len(aliases_named(api, body["name"])) == 1


def test_a_retry_the_moment_the_answer_arrives_is_replayed(api: httpx.Client) -> None:
    # The response is recorded before its last byte is sent: an immediate
    # retry never sees "in progress" (it did once, on PostgreSQL).
    for _ in range(25):
        body, key = alias_body(), str(uuid.uuid4())
        first = api.post("/aliases/", json=body, headers={"Idempotency-Key": key})
        again = api.post("/aliases/", json=body, headers={"Idempotency-Key": key})
        assert (first.status_code, again.status_code) == (201, 201), again.text
        assert again.headers["idempotent-replayed"] == "true"


def test_same_key_different_body_is_409(api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    first = alias_body()
    assert api.post("/aliases/", json=first, headers={"Idempotency-Key": key}).status_code == 201
    second = alias_body()
    conflict = api.post("/aliases/", json=second, headers={"Idempotency-Key": key})
    assert conflict.status_code == 409
    assert "different request" in conflict.json()["detail"]
    assert aliases_named(api, second["name"]) == []


def test_keys_are_per_customer(api: httpx.Client, other_api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    body = alias_body()
    mine = api.post("/aliases/", json=body, headers={"Idempotency-Key": key})
    theirs = other_api.post("/aliases/", json=body, headers={"Idempotency-Key": key})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers


def test_a_failed_request_does_not_use_up_the_key(api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    bad = api.post(
        "/aliases/", json=alias_body(target_path="https://x.test"), headers={"Idempotency-Key": key}
    )
    assert bad.status_code == 422
    good_body = alias_body()
    good = api.post("/aliases/", json=good_body, headers={"Idempotency-Key": key})
    assert good.status_code == 201
    assert len(aliases_named(api, good_body["name"])) == 1


def test_concurrent_duplicates_execute_once(api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    body = alias_body()
    statuses: list[int] = []
    ids: set[str] = set()
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(base_url=str(api.base_url), headers=dict(api.headers)) as client:
            response = client.post("/aliases/", json=body, headers={"Idempotency-Key": key})
        with lock:
            statuses.append(response.status_code)
            if response.status_code == 201:
                ids.add(response.json()["id"])

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(statuses) == 6
    assert statuses == [201] * 6  # the duplicates wait for the first and replay it
    assert len(ids) == 1
    assert len(aliases_named(api, body["name"])) == 1


def test_without_a_key_nothing_is_recorded(api: httpx.Client) -> None:
    body = alias_body()
    assert api.post("/aliases/", json=body).status_code == 201
    # A second create of the same alias is a business conflict, not a replay.
    second = api.post("/aliases/", json=body)
    assert second.status_code == 409
    assert "idempotent-replayed" not in second.headers


def test_key_length_is_checked(api: httpx.Client) -> None:
    response = api.post("/aliases/", json=alias_body(), headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]


def test_anonymous_post_with_a_key_is_still_401(anonymous_api: httpx.Client) -> None:
    response = anonymous_api.post(
        "/aliases/", json=alias_body(), headers={"Idempotency-Key": "abc"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        ("Bearer svcpass_not-a-real-key", "invalid or revoked"),
        ("Bearer svcpass_a svcpass_b", "malformed"),
        ("Basic abc", "malformed"),
    ],
)
def test_a_bad_key_with_an_idempotency_key_is_401(
    anonymous_api: httpx.Client, authorization: str, detail: str
) -> None:
    response = anonymous_api.post(
        "/aliases/",
        json=alias_body(),
        headers={"Idempotency-Key": str(uuid.uuid4()), "Authorization": authorization},
    )
    assert response.status_code == 401
    assert detail in response.json()["detail"]

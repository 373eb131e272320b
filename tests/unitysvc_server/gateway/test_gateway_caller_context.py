"""End to end: the gateway reads a caller's routing facts once, then follows changes.

BYOK, enrollment and collection routing need the caller's secrets, active enrollments
and collections on every call; the gateway caches them per customer
(``domain.caller_context``) and drops the cache when this server commits a change to
any of those tables, so the next call sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from gateway_helpers import FakeUpstream
from sqlalchemy import event
from sqlalchemy.engine import Engine

import unitysvc


@contextmanager
def reads_of(tables: tuple[str, ...]) -> Iterator[list[str]]:
    """Collect the SQL statements (of any engine in this process) that read ``tables``."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and any(
            f"FROM {table}" in statement for table in tables
        ):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_byok_calls_reuse_the_callers_context_and_see_changes_at_once(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    multi = service_id("multi")
    path = f"p/{multi}/{marker}"

    def call(address: str = path) -> dict[str, Any]:
        response = client.dispatch(address, json={})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    client.secrets.set("GWTEST_MULTI_KEY", f"sk-{marker}")
    call()  # records the secret's first use, a write that refreshes the context
    call()
    with reads_of(("secrets", "enrollments")) as reads:
        for _ in range(10):
            assert call()["headers"]["authorization"] == f"Bearer sk-{marker}"
    # Without the cache each call reads both tables; at most one refresh may fall in.
    assert len(reads) <= 2, reads

    # Changes made through this server are seen by the very next call.
    client.secrets.set("GWTEST_MULTI_KEY", f"sk-{marker}-rotated")
    assert call()["headers"]["authorization"] == f"Bearer sk-{marker}-rotated"
    client.secrets.delete("GWTEST_MULTI_KEY")
    assert call()["path"] == f"/multi-managed/{marker}"

    enrollment = client.enrollments.create(service_id=multi).wait(timeout=20)
    assert enrollment.status == "active", enrollment.record
    assert call()["path"] == f"/multi-byoe/{enrollment.code}/{marker}"
    assert call(f"e/{enrollment.code.lower()}/{marker}")["path"].startswith("/multi-byoe/")
    enrollment.cancel()
    gone = client.dispatch(f"e/{enrollment.code}/{marker}", json={})
    assert gone.status_code == 404, gone.text
    assert call()["path"] == f"/multi-managed/{marker}"


def test_another_customers_enrollment_code_answers_like_an_unknown_one(
    platform: Any, client: unitysvc.Client, service_id: Callable[[str], str], marker: str
) -> None:
    enrollment = client.enrollments.create(service_id=service_id("multi")).wait(timeout=20)
    assert enrollment.status == "active", enrollment.record
    other_key = platform.create_customer(f"other-{marker}")
    with unitysvc.Client(other_key, base_url=platform.api_url) as other:
        theirs = other.dispatch(f"e/{enrollment.code}/{marker}", json={})
        unknown = other.dispatch(f"e/ZZZZ/{marker}", json={})
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["detail"].replace(enrollment.code, "ZZZZ") == unknown.json()["detail"]


def test_collection_calls_reuse_the_callers_context_and_see_changes_at_once(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    name = f"mine-{marker}"
    mine = client.groups.create(name=name)
    mine.add_member(service_id=service_id("cheap"), routing_key={"model": "fast"})
    body = {"model": "fast"}

    def call() -> httpx.Response:
        return client.dispatch(f"g/{name}/{marker}", json=body)

    assert call().json()["path"] == f"/cheap/{marker}"
    with reads_of(("collections", "collection_members")) as reads:
        for _ in range(10):
            assert call().json()["path"] == f"/cheap/{marker}"
    assert len(reads) <= 2, reads  # at most one refresh; uncached, two reads per call

    mine.add_member(service_id=service_id("pricey"), routing_key={"model": "smart"})
    body = {"model": "smart"}
    assert call().json()["path"] == f"/pricey/{marker}"
    mine.remove_member(service_id("pricey"))
    assert call().status_code == 404
    mine.update(enabled=False)
    assert call().status_code == 404
    mine.update(enabled=True)
    body = {"model": "fast"}
    assert call().json()["path"] == f"/cheap/{marker}"
    mine.delete()
    assert call().status_code == 404


def test_alias_calls_reuse_the_callers_context_and_see_switches_at_once(
    client: unitysvc.Client, service_id: Callable[[str], str], fake: FakeUpstream, marker: str
) -> None:
    name = f"a{marker}"
    stable = client.aliases.create({"name": name, "target_path": f"p/{service_id('cheap')}"})

    def target() -> str:
        response = client.dispatch(f"a/{name}/{marker}", json={})
        assert response.status_code == 200, response.text
        path: str = response.json()["path"]
        return path.split("/")[1]

    assert target() == "cheap"
    with reads_of(("aliases",)) as reads:
        for _ in range(10):
            assert target() == "cheap"
    assert len(reads) <= 1, reads  # at most one refresh; uncached, one read per call

    canary = client.aliases.create(
        {"name": name, "target_path": f"p/{service_id('pricey')}", "is_routing": False}
    )
    assert target() == "cheap"
    client.aliases.switch(canary.id)
    assert target() == "pricey"
    client.aliases.switch(stable.id)
    assert target() == "cheap"
    client.aliases.delete(stable.id)
    assert client.dispatch(f"a/{name}/{marker}", json={}).status_code == 404

"""Budgets at the gateway: 402 at the cap (buffered and streamed), the warning header.

The fake upstream answers ``/usage-chat/<tokens>/...`` with an OpenAI-shaped ``usage``;
``cheap`` charges 0.10 per million tokens each way, so ``<tokens>`` = 1,000,000 costs
exactly 0.2 a call.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from unitysvc_server.testing import LocalPlatform

#: One call through ``cheap`` at this many tokens each way costs 0.2.
TOKENS = 1_000_000
CALL_COST = Decimal("0.2")
USAGE_CHAT = f"usage-chat/{TOKENS}/v1/chat/completions"


@pytest.fixture(scope="module")
def CHAT(service_id: Callable[[str], str]) -> str:
    """The gateway path of a chat call to ``cheap`` (0.2 a call)."""
    return f"/p/{service_id('cheap')}/{USAGE_CHAT}"


def gateway(platform: LocalPlatform, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def create(platform: LocalPlatform, key: str, **body: Any) -> dict[str, Any]:
    with platform.http(key) as api:
        response = api.post("/budgets/", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def status(platform: LocalPlatform, key: str, budget_id: str) -> dict[str, Any]:
    with platform.http(key) as api:
        response = api.get(f"/budgets/{budget_id}/status")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


def chat(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    return body


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "streamed"])
def test_calls_are_refused_with_402_once_the_cap_is_reached(
    platform: LocalPlatform, key: str, stream: bool, CHAT: str
) -> None:
    budget = create(platform, key, name="monthly", cap="0.5")
    upstream_calls = 0
    with gateway(platform, key) as gw:
        answers = []
        for _ in range(5):
            response = gw.post(CHAT, json=chat(stream))
            answers.append(response.status_code)
            if response.status_code == 200:
                upstream_calls += 1
                if stream:
                    assert response.text.rstrip().endswith("data: [DONE]")
        # 0 -> 0.2 -> 0.4 -> 0.6 (admitted under the cap, overshoots) -> refused after.
        assert answers == [200, 200, 200, 402, 402]
        refused = gw.post(CHAT, json=chat(stream))
    assert refused.status_code == 402
    error = refused.json()
    assert error["error_type"] == "budget_exhausted"
    assert "monthly" in error["detail"] and "0.5" in error["detail"]
    assert error["budget"] == {
        "id": budget["id"],
        "name": "monthly",
        "scope": "all",
        "target": None,
        "cap": "0.5",
        "spent": "0.6",
        "currency": "USD",
        "cycle_start": budget["status"]["cycle_start"],
    }
    now = status(platform, key, budget["id"])
    assert Decimal(now["spent"]) == upstream_calls * CALL_COST
    assert now["exhausted"] is True and now["remaining"] == "0"


def test_a_stream_sees_its_usage_counted_before_its_end(
    platform: LocalPlatform, key: str, CHAT: str
) -> None:
    budget = create(platform, key, name="one-call", cap="0.1")
    with gateway(platform, key) as gw, gw.stream("POST", CHAT, json=chat(True)) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    # The usage chunk the gateway asked for is not passed on to the caller.
    assert events[-1] == "data: [DONE]"
    assert all(json.loads(e[6:])["choices"] for e in events[:-1])
    assert Decimal(status(platform, key, budget["id"])["spent"]) == CALL_COST
    with gateway(platform, key) as gw:
        assert gw.post(CHAT, json=chat(True)).status_code == 402


def test_the_warning_header_names_the_budget_past_its_threshold(
    platform: LocalPlatform, key: str, CHAT: str
) -> None:
    budget = create(platform, key, name="soft", cap="10", alert_threshold="0.3")
    with gateway(platform, key) as gw:
        first = gw.post(CHAT, json=chat(False))
        second = gw.post(CHAT, json=chat(False))
        third = gw.post(CHAT, json=chat(False))
    assert "x-unitysvc-budget-warning" not in first.headers  # spent 0
    assert "x-unitysvc-budget-warning" not in second.headers  # spent 0.2 < 0.3
    warning = third.headers["x-unitysvc-budget-warning"]  # spent 0.4
    assert 'budget="soft"' in warning and budget["id"] in warning
    assert "spent=0.4" in warning and "alert=0.3" in warning and "cap=10" in warning
    now = status(platform, key, budget["id"])
    assert now["alerting"] is True and now["exhausted"] is False
    assert now["remaining"] == "9.4"


def test_service_and_group_budgets_cap_only_their_calls(
    platform: LocalPlatform, key: str, service_id: Callable[[str], str], CHAT: str
) -> None:
    create(platform, key, name="pricey-only", scope="service", target="pricey", cap="0.01")
    create(platform, key, name="via-cheapest", scope="group", target="cheapest", cap="0.000001")
    pricey = f"/p/{service_id('pricey')}/{USAGE_CHAT}"
    group = f"/g/cheapest/{USAGE_CHAT}"  # by_price: always served by cheap
    with gateway(platform, key) as gw:
        # cheap called directly is in neither scope: served and counted by neither.
        assert [gw.post(CHAT, json=chat(False)).status_code for _ in range(3)] == [200] * 3
        # The first call in a scope is admitted (nothing spent) and exhausts the budget.
        assert gw.post(group, json=chat(False)).status_code == 200
        # The same group addressed by its id counts as the same group.
        group_id = platform.app.runtime.catalog.group("cheapest")
        assert group_id is not None
        by_group = gw.post(f"/g/{group_id.id}/{USAGE_CHAT}", json=chat(False))
        assert gw.post(pricey, json=chat(False)).status_code == 200
        by_service = gw.post(pricey, json=chat(False))
        assert gw.post(CHAT, json=chat(False)).status_code == 200
    assert by_group.status_code == 402 and by_service.status_code == 402
    assert by_group.json()["budget"]["name"] == "via-cheapest"
    assert by_group.json()["budget"]["target"] == "cheapest"
    assert by_service.json()["budget"]["name"] == "pricey-only"
    assert by_service.json()["budget"]["target"] == service_id("pricey")


def test_a_key_budget_caps_that_key_only(platform: LocalPlatform, CHAT: str) -> None:
    name = f"keyed-{uuid.uuid4().hex[:10]}"
    first, second = platform.create_customer(name), platform.create_customer(name)
    budget = create(platform, first, name="first-key", scope="key", target=first, cap="0.1")
    assert budget["target"] == first[:12]  # shown by its hint, never in full
    with gateway(platform, first) as gw:
        assert gw.post(CHAT, json=chat(False)).status_code == 200
        assert gw.post(CHAT, json=chat(False)).status_code == 402
    with gateway(platform, second) as gw:  # the same customer's other key
        assert gw.post(CHAT, json=chat(False)).status_code == 200
        assert gw.post(CHAT, json=chat(False)).status_code == 200


def test_budget_tables_are_read_once_per_customer_not_per_call(
    platform: LocalPlatform, key: str, CHAT: str
) -> None:
    """Without budgets the gate costs no database round trip; the list is cached."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "budget" in statement:
            statements.append(statement.split()[0])

    runtime = platform.app.runtime
    # On SQLite the writes go through the process's writer connection, the reads not.
    engines = [e.sync_engine for e in (runtime.engine, runtime.writer) if e is not None]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        with gateway(platform, key) as gw:
            for _ in range(5):
                assert gw.post(CHAT, json=chat(False)).status_code == 200
        # The customer's (empty) budget list, once (twice if its 5 s TTL ran out).
        assert statements in (["SELECT"], ["SELECT", "SELECT"]), statements
        statements.clear()
        budget = create(platform, key, name="later", cap="100")  # drops the cached list
        statements.clear()
        with gateway(platform, key) as gw:
            for _ in range(3):
                assert gw.post(CHAT, json=chat(False)).status_code == 200
        # The list once more, then per call: the counters' read and the atomic upsert.
        assert statements.count("INSERT") == 3, statements
        assert statements.count("SELECT") in (4, 5), statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)
    # It started from the cycle's usage already recorded (the calls above, as far as the
    # log writer had stored them); each call since added exactly its own cost.
    started = Decimal(budget["status"]["spent"])
    assert started <= 5 * CALL_COST
    assert Decimal(status(platform, key, budget["id"])["spent"]) == started + 3 * CALL_COST

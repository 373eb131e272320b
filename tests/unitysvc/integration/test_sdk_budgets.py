"""Budgets through the SDK, sync and async, against a real platform."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from unitysvc import ConflictError, NotFoundError, ValidationError
from unitysvc.models import BudgetPublic, BudgetsPublic, BudgetStatus


def _chat() -> dict[str, Any]:
    return {"model": "demo-small", "messages": [{"role": "user", "content": "one two"}]}


def test_create_list_update_status_delete(fresh_client: Any, service_id: Any) -> None:
    client = fresh_client
    budget = client.budgets.create("monthly", cap=Decimal("25"), alert_threshold="20")
    assert isinstance(budget, BudgetPublic)
    assert (budget.cap, budget.alert_threshold, budget.scope) == ("25", "20", "all")
    assert isinstance(budget.status, BudgetStatus) and budget.status.spent == "0"

    small = service_id(client, "demo-small")
    scoped = client.budgets.create("small", cap=1, scope="service", target="demo-small")
    assert scoped.target == small and scoped.target_name == "demo-small"

    listed = client.budgets.list()
    assert isinstance(listed, BudgetsPublic)
    assert [b.name for b in listed] == ["monthly", "small"]

    changed = client.budgets.update(budget, cap="30", alert_threshold=None)
    assert (changed.cap, changed.alert_threshold, changed.name) == ("30", None, "monthly")
    assert client.budgets.get(budget.id).cap == "30"
    assert client.budgets.status(budget).remaining == "30"

    with pytest.raises(ConflictError, match="'small'"):
        client.budgets.create("small", cap="2")
    client.budgets.delete(scoped)
    with pytest.raises(NotFoundError):
        client.budgets.get(scoped.id)


def test_amounts_are_checked_locally_and_by_the_platform(fresh_client: Any) -> None:
    client = fresh_client
    with pytest.raises(ValidationError, match="floats are inexact"):
        client.budgets.create("b", cap=2.5)
    with pytest.raises(ValidationError, match="greater than 0"):
        client.budgets.create("b", cap="0")
    with pytest.raises(ValidationError, match="needs a target"):
        client.budgets.create("b", cap="1", scope="service")
    with pytest.raises(ValidationError, match="scope"):
        client.budgets.create("b", cap="1", scope="team")
    with pytest.raises(ValidationError, match="alert_threshold.*above the cap"):
        client.budgets.create("b", cap="1", alert_threshold="2")
    with pytest.raises(ValidationError, match="unknown service 'nope'"):
        client.budgets.create("b", cap="1", scope="service", target="nope")
    assert client.budgets.list().count == 0


def test_the_gateway_refuses_calls_past_the_cap(fresh_client: Any, service_id: Any) -> None:
    client = fresh_client
    budget = client.budgets.create("tiny", cap="0.000000000001")
    path = f"p/{service_id(client, 'demo-small')}/chat/completions"
    assert client.dispatch(path, json=_chat()).status_code == 200
    refused = client.dispatch(path, json=_chat())
    assert refused.status_code == 402
    assert refused.json()["budget"]["name"] == "tiny"
    status = client.budgets.status(budget)
    assert status.exhausted is True and Decimal(status.spent) > Decimal(status.cap)

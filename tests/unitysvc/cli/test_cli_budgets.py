"""``usvc budgets`` and the budgets under ``usvc usage``, against a real platform."""

from __future__ import annotations

import uuid

import httpx
import pytest
from usvc_runner import Usvc

from unitysvc_server.testing import LocalPlatform


@pytest.fixture
def me(platform: LocalPlatform) -> Usvc:
    """``usvc`` as a new customer, with its key."""
    key = platform.create_customer(f"cli-budget-{uuid.uuid4().hex[:10]}")
    return Usvc({"UNITYSVC_API_KEY": key, "UNITYSVC_API_URL": platform.api_url})


def test_create_list_show_update_delete(me: Usvc) -> None:
    assert "No budgets" in me.ok("budgets", "list").stderr
    done = me.ok("budgets", "create", "monthly", "--cap", "25", "--alert", "20")
    assert "Created budget monthly" in done.stderr
    assert "25 USD" in done.stdout and "20" in done.stdout
    small = me.json(
        "budgets", "create", "small", "--cap", "5", "--scope", "service", "--target", "demo-small"
    )
    assert (small["scope"], small["target_name"], small["cap"]) == ("service", "demo-small", "5")

    table = me.ok("budgets", "list").stdout
    assert "monthly" in table and "service demo-small" in table and "ok" in table
    listed = me.json("budgets", "list")
    assert [b["name"] for b in listed] == ["monthly", "small"]

    shown = me.json("budgets", "show", "monthly")  # by name
    assert shown["status"]["remaining"] == "25"
    assert me.json("budgets", "show", small["id"])["name"] == "small"  # by id

    updated = me.json("budgets", "update", "monthly", "--cap", "50", "--no-alert")
    assert (updated["cap"], updated["alert_threshold"]) == ("50", None)
    assert "Updated budget big" in me.ok("budgets", "update", "monthly", "--name", "big").stderr

    assert "Deleted small" in me.ok("budgets", "delete", "small").stderr
    assert [b["name"] for b in me.json("budgets", "list")] == ["big"]


def test_errors_are_one_line_naming_the_fix(me: Usvc) -> None:
    line = me.fails("budgets", "create", "b", "--cap", "0")
    assert "greater than 0" in line
    line = me.fails("budgets", "create", "b", "--cap", "5", "--alert", "6")
    assert "alert_threshold" in line and "above the cap" in line
    usage = me("budgets", "create", "b", "--cap", "5", "--scope", "team")
    assert usage.exit_code == 2 and "'team' is not a scope: use all, service" in usage.stderr
    line = me.fails("budgets", "create", "b", "--cap", "5", "--scope", "group", "--target", "x")
    assert "unknown group 'x'" in line
    usage = me("budgets", "show", "nothing-here")
    assert usage.exit_code == 2 and "no budget named 'nothing-here'" in usage.stderr
    me.ok("budgets", "create", "b", "--cap", "5")
    usage = me("budgets", "update", "b")
    assert usage.exit_code == 2 and "nothing to change" in usage.stderr


def test_usage_shows_the_budgets_status(platform: LocalPlatform) -> None:
    key = platform.create_customer(f"cli-budget-{uuid.uuid4().hex[:10]}")
    me = Usvc({"UNITYSVC_API_KEY": key, "UNITYSVC_API_URL": platform.api_url})
    assert "Budgets" not in me.ok("usage").stdout  # none set: nothing about them
    me.ok("budgets", "create", "tiny", "--cap", "0.000000000001")
    service = platform.app.runtime.catalog.service_by_name("demo-small")
    assert service is not None
    chat = {"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=platform.gateway_url, headers=headers, timeout=30) as gw:
        assert gw.post(f"/p/{service.id}/chat/completions", json=chat).status_code == 200
        assert gw.post(f"/p/{service.id}/chat/completions", json=chat).status_code == 402
    out = me.ok("usage").stdout
    assert "Budgets this cycle" in out and "tiny" in out and "EXHAUSTED" in out
    # --json stays the cycle's document.
    assert "budgets" not in me.json("usage")

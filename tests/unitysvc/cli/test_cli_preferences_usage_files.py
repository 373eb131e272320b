"""``usvc preferences``, ``usvc usage``, ``usvc files`` and ``usvc services usage``
against a real platform, each test as a customer of its own."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from usvc_runner import Usvc

from unitysvc_server.demo.catalog import CHAT_PRICES
from unitysvc_server.testing import LocalPlatform


@pytest.fixture
def me(platform: LocalPlatform) -> Usvc:
    """``usvc`` as a new customer."""
    key = platform.create_customer(f"cli-{uuid.uuid4().hex[:10]}")
    return Usvc({"UNITYSVC_API_KEY": key, "UNITYSVC_API_URL": platform.api_url})


@pytest.fixture(scope="module")
def small_id(usvc: Any) -> str:
    rows = usvc.json("groups", "services", "all_services", "--search", "demo-small", "--all")
    return str(next(r["id"] for r in rows if r["name"] == "demo-small"))


# -- preferences ---------------------------------------------------------------------------


def test_preferences_list_set_get_clear(me: Usvc) -> None:
    listed = me.json("preferences", "list")
    assert [(p["name"], p["value"]) for p in listed] == [
        ("notification", None),
        ("ai", None),
        ("request-log", None),
    ]
    table = me.ok("preferences", "list").stdout
    assert "notification" in table and "request-log" in table

    done = me.ok("preferences", "set", "ai", "demo-small")
    assert "Set ai to demo-small" in done.stderr
    got = me.json("preferences", "get", "ai")
    assert (got["value"], got["source"]) == ({"service": "demo-small", "gateway": None}, "account")
    record = me.ok("preferences", "get", "ai").stdout
    assert "demo-small" in record and "account" in record

    note = me.json("preferences", "set", "notification", "g/llm", "--gateway", "api")
    assert note["value"] == {"service": "g/llm", "gateway": "api"}
    assert "Cleared ai" in me.ok("preferences", "clear", "ai").stderr
    assert me.json("preferences", "get", "ai")["value"] is None


def test_request_log_mode_show_set_off(me: Usvc) -> None:
    assert me.ok("preferences", "request-log").stdout.strip() == "Request logging is off"
    done = me.ok("preferences", "request-log", "complete")
    assert "Request logging is on: complete" in done.stderr
    assert me.json("preferences", "request-log")["value"] == "complete"
    # The same switch as usvc request-logs start/stop.
    assert "off" in me.ok("request-logs", "stop").stderr
    assert me.json("preferences", "request-log")["value"] is None
    me.ok("preferences", "request-log", "truncated")
    assert "off" in me.ok("preferences", "request-log", "off").stderr
    assert me.json("preferences", "get", "request-log")["value"] is None


def test_preference_errors_are_one_line_naming_what_is_allowed(me: Usvc) -> None:
    line = me.fails("preferences", "set", "request-log", "verbose")
    assert "'truncated'" in line and "'complete'" in line
    line = me.fails("preferences", "set", "ai", "no-such-service")
    assert "422" in line and "listed service" in line
    line = me.fails("preferences", "get", "colour")
    assert "404" in line and "request-log" in line


# -- usage ---------------------------------------------------------------------------------


def test_usage_table_and_json_after_known_calls(me: Usvc, small_id: str) -> None:
    assert "No metered calls" in me.ok("usage").stderr
    prompt = completion = 0
    for text in ("one two three", "four"):
        body = json.dumps({"model": "demo-small", "messages": [{"role": "user", "content": text}]})
        answer = me.json("dispatch", f"p/{small_id}/chat/completions", "--data", body)
        assert answer["status"] == 200
        prompt += answer["body"]["usage"]["prompt_tokens"]
        completion += answer["body"]["usage"]["completion_tokens"]
    price_in, price_out = (Decimal(p) for p in CHAT_PRICES["demo-small"])
    expected = (prompt * price_in + completion * price_out) / Decimal(1_000_000)

    deadline = time.monotonic() + 10
    data = me.json("usage")
    while not data["services"] or data["services"][0]["request_count"] < 2:
        assert time.monotonic() < deadline, data
        time.sleep(0.1)
        data = me.json("usage")
    [entry] = data["services"]
    assert (entry["service_name"], entry["request_count"], entry["error_count"]) == (
        "demo-small",
        2,
        0,
    )
    assert Decimal(entry["customer_charge"]) == Decimal(data["total_charge"]) == expected
    table = me.ok("usage").stdout
    assert "demo-small" in table and "Total" in table and "Charge (USD)" in table
    assert data["total_charge"] in table
    assert f"{prompt:,}" in table  # input tokens
    past = me.json("usage", "--cycle", "2026-02-01")
    assert (past["cycle_start"], past["services"]) == ("2026-02-01", [])


# -- files ---------------------------------------------------------------------------------


def test_files_put_ls_get_url(me: Usvc, tmp_path: Path) -> None:
    source = tmp_path / "report.csv"
    source.write_text("a,b\n1,2\n")
    put = me.json("files", "put", str(source), "reports", "--name", "april.csv")
    assert put == {"key": "reports/april.csv", "scope": "personal"}
    assert "Uploaded" in me.ok("files", "put", str(source)).stderr

    top = me.ok("files", "ls").stdout
    assert "reports/" in top and "report.csv" in top
    listing = me.json("files", "ls", "reports")
    assert [o["key"] for o in listing["objects"]] == ["reports/april.csv"]

    out = tmp_path / "copy.csv"
    got = me.json("files", "get", "reports/april.csv", str(out))
    assert got["path"] == str(out) and out.read_text() == "a,b\n1,2\n"

    url = me.ok("files", "url", "reports/april.csv", "--expires-in", "60").stdout.strip()
    assert httpx.get(url).text == "a,b\n1,2\n"
    line = me.fails("files", "get", "reports/none.csv", str(tmp_path / "none.csv"))
    assert "404" in line
    assert not (tmp_path / "none.csv").exists()


# -- services usage ------------------------------------------------------------------------


def test_services_usage_shows_the_access_plan(anonymous: Any, small_id: str) -> None:
    plan = anonymous.json("services", "usage", small_id)
    assert plan["enrollment_mode"] == "disallowed"
    assert [c["name"] for c in plan["channels"]] == ["managed"]
    out = anonymous.ok("services", "usage", small_id).stdout
    assert "disallowed" in out and "managed" in out and "canonical" in out

"""``usvc`` catalog and gateway commands against a real platform (LocalPlatform, demo)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

CHAT = {"model": "demo-small", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture(scope="module")
def service_id(usvc: Any) -> Any:
    """Find a demo service's id by its short name with the CLI itself."""
    found: dict[str, str] = {}

    def lookup(short_name: str) -> str:
        if short_name not in found:
            rows = usvc.json("groups", "services", "all_services", "--search", short_name, "--all")
            matches = [r["id"] for r in rows if r["name"].split("/")[-1] == short_name]
            assert matches, f"demo service {short_name} not listed: {rows}"
            found[short_name] = matches[0]
        return found[short_name]

    return lookup


def test_groups_list_as_table_and_json(usvc: Any, anonymous: Any) -> None:
    rows = usvc.json("groups", "list")
    names = {row["name"] for row in rows}
    assert {"llm", "all_services"} <= names
    assert all({"id", "owner_type", "editable"} <= set(row) for row in rows)
    table = usvc.ok("groups", "list").stdout
    assert "llm" in table and "Members" in table
    # The catalog is readable without a key.
    assert "llm" in {row["name"] for row in anonymous.json("groups", "list", "--owner", "system")}
    assert [r["name"] for r in usvc.json("groups", "list", "--name", "llm")] == ["llm"]


def test_group_show_and_unknown_group(usvc: Any) -> None:
    group = usvc.json("groups", "show", "llm")
    assert group["name"] == "llm"
    assert group["interface"]["base_url"]
    assert "routing_policy" in usvc.ok("groups", "show", "llm").stdout
    line = usvc.fails("groups", "show", "no-such-group")
    assert line.startswith("error: 404 Not Found")
    assert "[request id " in line


def test_group_services_pages(usvc: Any) -> None:
    every = usvc.json("groups", "services", "all_services", "--all", "--limit", "2")
    assert len(every) >= 3
    assert len({row["id"] for row in every}) == len(every)
    first = usvc("groups", "services", "all_services", "--limit", "1")
    assert first.exit_code == 0
    assert "--cursor" in first.stderr  # a hint for the next page
    searched = usvc.json("groups", "services", "all_services", "--search", "echo")
    assert searched and all("echo" in row["name"] for row in searched)


def test_collection_lifecycle(usvc: Any, service_id: Any) -> None:
    name = "cli-" + uuid.uuid4().hex[:8]
    created = usvc.json("groups", "create", name, "--display-name", "CLI test")
    assert created["name"] == name and created["editable"] is True
    gid = created["id"]
    updated = usvc.json("groups", "update", gid, "--display-name", "Renamed", "--disable")
    assert (updated["display_name"], updated["enabled"]) == ("Renamed", False)
    usvc.ok("groups", "update", gid, "--enable")
    echo = service_id("echo")
    member = usvc.json("groups", "add-member", gid, echo, "--routing-key", "model=fast")
    assert member["service_id"] == echo and member["routing_key"] == {"model": "fast"}
    members = usvc.json("groups", "members", gid)
    assert [m["service_id"] for m in members] == [echo]
    assert echo in usvc.ok("groups", "members", gid).stdout
    usvc.ok("groups", "remove-member", gid, echo, "--yes")
    assert usvc.json("groups", "members", gid) == []
    deleted = usvc.ok("groups", "delete", gid, "--yes")
    assert "Deleted" in deleted.stderr
    assert usvc.fails("groups", "show", gid).startswith("error: 404 Not Found")
    duplicate = usvc.json("groups", "create", name + "-dup")
    assert "409" in usvc.fails("groups", "create", name + "-dup")
    usvc.ok("groups", "delete", duplicate["id"], "--yes")


def test_service_show_interfaces_and_prefix(usvc: Any, service_id: Any) -> None:
    echo = service_id("echo")
    shown = usvc.json("services", "show", echo)
    assert shown["id"] == echo and shown["name"].endswith("echo")
    assert usvc.json("services", "show", echo[:8])["id"] == echo
    interfaces = usvc.json("services", "interfaces", echo)
    assert interfaces and interfaces[0]["base_url"]
    assert interfaces[0]["name"] in usvc.ok("services", "interfaces", echo).stdout
    unknown = str(uuid.uuid4())
    assert usvc.fails("services", "show", unknown).startswith("error: 404 Not Found")


def test_service_dispatch_prints_status_and_body(usvc: Any, service_id: Any) -> None:
    echo = service_id("echo")
    result = usvc.ok(
        "services",
        "dispatch",
        echo,
        "--path",
        "anything",
        "--data",
        '{"x": 1}',
        "-H",
        "X-Test: yes",
    )
    assert result.stderr.startswith("HTTP 200 OK")
    seen = json.loads(result.stdout)
    assert seen["method"] == "POST"
    assert "x-test" in {k.lower() for k in seen["headers"]}
    down = usvc("services", "dispatch", service_id("demo-down"), "--data", "{}")
    assert down.exit_code == 1
    assert "HTTP 503" in down.stderr
    assert down.stdout  # the upstream's body is still printed


def test_raw_dispatch_methods_and_stdin_body(usvc: Any, service_id: Any) -> None:
    echo = service_id("echo")
    got = json.loads(usvc.ok("dispatch", f"p/{echo}/raw").stdout)
    assert got["method"] == "GET"  # no body: GET
    posted = usvc.ok("dispatch", f"p/{echo}/raw", "--data-file", "-", input='{"from": "stdin"}')
    assert json.loads(posted.stdout)["method"] == "POST"
    put = usvc.ok("dispatch", f"p/{echo}/raw", "-X", "put", "--data", "plain")
    assert json.loads(put.stdout)["method"] == "PUT"


def test_dispatch_wrappers_cache_failover_log_tee(usvc: Any, service_id: Any) -> None:
    echo, down = service_id("echo"), service_id("demo-down")
    body = json.dumps({"nonce": uuid.uuid4().hex})
    first = usvc.ok("dispatch", f"p/{echo}/cache", "--data", body, "--cache", "5m")
    second = usvc.ok("dispatch", f"p/{echo}/cache", "--data", body, "--cache", "5m")
    assert f"→ m/p/{echo}/cache?_ttl=5m" in first.stderr
    assert "cache miss" in first.stderr and "cache hit" in second.stderr
    assert second.stdout == first.stdout
    failed_over = usvc.ok("dispatch", f"p/{down}", "--data", "{}", "--failover", f"p/{echo}")
    assert json.loads(failed_over.stdout)["method"] == "POST"
    logged = usvc.ok(
        "dispatch", f"p/{echo}/logged", "--data", "{}", "--log", "--complete", "--tee", f"p/{echo}"
    )
    assert f"→ l/t/p/{echo}/logged?_complete=&_to=p%2F{echo}" in logged.stderr


def test_streaming_prints_tokens(usvc: Any) -> None:
    body = json.dumps({**CHAT, "stream": True})
    result = usvc.ok("dispatch", "g/llm/chat/completions", "--data", body, "--stream")
    assert result.stderr.startswith("HTTP 200")
    assert "hello there" in result.stdout
    assert "data:" not in result.stdout and "[DONE]" not in result.stdout
    assert result.stdout.endswith("\n")
    missing = usvc("dispatch", "g/no-such-group/chat", "--data", body, "--stream")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("HTTP 404") and "no-such-group" in missing.stdout


def test_services_stream_and_group_dispatch(usvc: Any) -> None:
    member = usvc.json("groups", "services", "llm")[0]["id"]
    body = json.dumps({**CHAT, "stream": True})
    streamed = usvc.ok("services", "stream", member, "--path", "chat/completions", "--data", body)
    assert "hello there" in streamed.stdout
    answered = usvc.ok(
        "groups", "dispatch", "llm", "--path", "chat/completions", "--data", json.dumps(CHAT)
    )
    assert "hello there" in json.loads(answered.stdout)["choices"][0]["message"]["content"]


def test_resolve(usvc: Any) -> None:
    result = usvc.json("resolve", "g/llm/chat/completions", "--key", "model=demo-small")
    assert result["candidates"]
    assert all("service_id" in c for c in result["candidates"])
    table = usvc.ok("resolve", "g/llm/chat/completions", "--key", "model=demo-small").stdout
    assert "strategy:" in table
    assert "404" in usvc.fails("resolve", "g/no-such-group")


def test_schedule_and_enroll(usvc: Any, service_id: Any) -> None:
    echo = service_id("echo")
    scheduled = usvc.json(
        "services", "schedule", echo, "--interval", "3600", "--body", '{"ping": true}'
    )
    assert scheduled["status"] == "active"
    assert scheduled["schedule"] == {"schedule_type": "interval", "interval_seconds": 3600}
    assert scheduled["body_template"] == {"ping": True}
    usvc.ok("recurrent-requests", "delete", scheduled["id"], "--yes")

    upstream = usvc.json("services", "interfaces", echo)[0]["base_url"]
    enrolled = usvc.json(
        "services", "enroll", service_id("demo-byoe"), "-P", f"base_url={upstream}", "--wait"
    )
    assert enrolled["status"] == "active" and len(enrolled["code"]) == 4
    usvc.ok("enrollments", "cancel", enrolled["id"], "--yes")


def test_dispatch_body_is_data_and_json_means_output(
    usvc: Any, service_id: Any, tmp_path: Any
) -> None:
    echo = service_id("echo")
    body_file = tmp_path / "body.json"
    body_file.write_text('{"from": "file"}')
    inline = json.loads(usvc.ok("dispatch", f"p/{echo}/d", "--data", '{"a": 1}').stdout)
    assert inline["body"] == {"a": 1}
    assert inline["headers"]["Content-Type"] == "application/json"  # a JSON body is labelled
    from_file = json.loads(usvc.ok("dispatch", f"p/{echo}/f", "--data-file", str(body_file)).stdout)
    assert from_file["body"] == {"from": "file"}
    text = json.loads(usvc.ok("dispatch", f"p/{echo}/t", "--data", "plain words").stdout)
    assert text["body"] == "plain words"
    assert "application/json" not in text["headers"].get("Content-Type", "")
    # --json is the output format: status, headers and the parsed body in one object.
    out = json.loads(usvc.ok("dispatch", f"p/{echo}/o", "--data", '{"b": 2}', "--json").stdout)
    assert out["status"] == 200
    assert out["body"]["body"] == {"b": 2}
    assert out["headers"]["content-type"].startswith("application/json")
    down = usvc("services", "dispatch", service_id("demo-down"), "--json")
    assert down.exit_code == 1 and json.loads(down.stdout)["status"] == 503
    streamed = usvc.ok(
        "dispatch",
        "g/llm/chat/completions",
        "--data",
        json.dumps({**CHAT, "stream": True}),
        "--stream",
        "--json",
    )
    events = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert events[0]["kind"] == "sse" and events[-1]["kind"] == "done"


def test_dispatch_without_path_says_which_paths_the_service_offers(
    usvc: Any, service_id: Any
) -> None:
    result = usvc("services", "dispatch", service_id("demo-small"), "--data", json.dumps(CHAT))
    assert result.exit_code == 1
    assert result.stderr.startswith("HTTP 404")
    assert "offers chat/completions" in result.stderr
    assert "add --path chat/completions" in result.stderr
    # With the path it works; a service with no documents still gets a hint.
    usvc.ok(
        "services",
        "dispatch",
        service_id("demo-small"),
        "-p",
        "chat/completions",
        "--data",
        json.dumps(CHAT),
    )


def test_nested_fields_read_as_text_and_json_stays_json(usvc: Any) -> None:
    shown = usvc.ok("groups", "show", "llm").stdout
    assert "routing_policy" in shown and "name: weighted_random" in shown
    assert "content_dependent: yes" in shown
    assert "{" not in shown and "'name'" not in shown  # no JSON, no Python dict
    resolved = usvc.ok("resolve", "g/llm/chat/completions").stdout
    assert "strategy: weighted_random (content_dependent: yes)" in resolved
    assert "{" not in resolved
    as_json = usvc.json("resolve", "g/llm/chat/completions")
    assert as_json["routing_strategy"] == {"name": "weighted_random", "content_dependent": True}
    group = usvc.json("groups", "show", "llm")
    assert group["routing_policy"]["name"] == "weighted_random"


def test_cells_and_blocks_render_structures_for_people() -> None:
    from unitysvc.cli._output import block, cell

    assert (
        cell({"name": "by_price", "fallback": None, "sticky": True})
        == "name: by_price, sticky: yes"
    )
    assert cell(["chat", "embeddings"]) == "chat, embeddings"
    assert cell([{"a": 1}, {"a": 2}]) == "(a: 1); (a: 2)"
    assert cell([]) == "-"
    assert block({"name": "x", "weights": {"a": 1, "b": 2}}) == "name: x\nweights:\n  a: 1\n  b: 2"
    assert block([{"model": "m1", "w": 1}, {"model": "m2"}]) == "- model: m1\n  w: 1\n- model: m2"

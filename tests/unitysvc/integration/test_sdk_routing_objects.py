"""Chains, broadcasts and the d/ r/ wrappers through the SDK, sync and async."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from unitysvc import ConflictError, NotFoundError, ValidationError
from unitysvc.models import BroadcastTargetPublic, ChainStepPublic


def _chat(text: str) -> dict[str, Any]:
    return {"model": "demo-small", "messages": [{"role": "user", "content": text}]}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_chain_lifecycle_and_failover_dispatch(fresh_client: Any, service_id: Any) -> None:
    client = fresh_client
    down = client.services.get(service_id(client, "demo-down"))
    small = service_id(client, "demo-small")
    name = _name("ch")
    chain = client.chains.create(
        name=name,
        description="failover",
        steps=[
            {"name": "first", "target_path": down},  # a record: its path is stored
            {"name": "backup", "target_path": f"p/{small}"},
        ],
    )
    assert chain.path == f"c/{name}"
    assert [(s.name, s.target_path, s.sort_order) for s in chain.steps] == [
        ("first", f"p/{down.id}", 0),
        ("backup", f"p/{small}", 1),
    ]
    assert [s.on_failure for s in chain.steps] == ["relay", "relay"]  # the platform's default
    response = chain.dispatch(path="chat/completions", json=_chat("chained"))
    assert response.status_code == 200, response.text
    assert response.headers["x-unitysvc-service-id"] == small
    assert "chained" in response.json()["choices"][0]["message"]["content"]

    assert chain.id in {c.id for c in client.chains.list()}
    updated = chain.update(description="edited", default_timeout_ms=5000)
    assert (updated.description, updated.default_timeout_ms) == ("edited", 5000)
    step = chain.add_step(name="third", target_path="g/llm", sort_order=2, on_failure="stop")
    assert isinstance(step, ChainStepPublic) and step.on_failure == "stop"
    changed = chain.update_step(step.id, timeout_ms=1500, target_path=client.groups.get("llm"))
    assert (changed.timeout_ms, changed.target_path) == (1500, "g/llm")
    assert [s.name for s in chain.refresh().steps] == ["first", "backup", "third"]
    chain.remove_step(step.id)
    assert [s.name for s in client.chains.get(chain.id).steps] == ["first", "backup"]
    replaced = chain.replace_steps([{"name": "only", "target_path": f"p/{small}"}])
    assert [(s.name, s.sort_order) for s in replaced.steps] == [("only", 0)]
    with pytest.raises(ConflictError):
        client.chains.create(name=name)
    chain.delete()
    with pytest.raises(NotFoundError):
        client.chains.get(chain.id)


def test_chain_step_without_target_is_refused_locally(fresh_client: Any) -> None:
    with pytest.raises(ValidationError) as info:
        fresh_client.chains.create(name=_name("ch"), steps=[{"name": "no-target"}])
    assert info.value.field == "steps[0]" and "target_path" in str(info.value)
    with pytest.raises(ValidationError, match="external URL"):
        fresh_client.chains.create(
            name=_name("ch"), steps=[{"name": "x", "target_path": "https://example.com/v1"}]
        )
    assert len(fresh_client.chains.list()) == 0


def test_broadcast_lifecycle_and_sync_envelope(fresh_client: Any, service_id: Any) -> None:
    client = fresh_client
    small, down = service_id(client, "demo-small"), service_id(client, "demo-down")
    name = _name("bc")
    fanout = client.broadcasts.create(
        name=name,
        targets=[
            {"name": "small", "target_path": f"p/{small}"},
            {"name": "down", "target_path": f"p/{down}"},
        ],
    )
    assert fanout.path == f"b/{name}" and fanout.mode == "sync"
    response = fanout.dispatch(path="chat/completions", json=_chat("fan"))
    assert response.status_code == 200
    envelope = response.json()
    assert (envelope["succeeded"], envelope["failed"]) == (1, 1)
    assert {r["name"]: r["status_code"] for r in envelope["results"]} == {
        "small": 200,
        "down": 503,
    }
    target = fanout.add_target(name="llm", target_path="g/llm", routing_key_override={"model": "x"})
    assert isinstance(target, BroadcastTargetPublic)
    assert target.routing_key_override == {"model": "x"}
    assert len(fanout.refresh().targets) == 3
    fanout.remove_target(target.id)
    assert [t.name for t in client.broadcasts.get(fanout.id).targets] == ["small", "down"]
    async_mode = fanout.update(mode="async", target_timeout_ms=5000)
    assert (async_mode.mode, async_mode.target_timeout_ms) == ("async", 5000)
    replaced = client.broadcasts.replace_targets(
        fanout.id, [{"name": "only", "target_path": f"p/{small}"}]
    )
    assert [t.name for t in replaced.targets] == ["only"]
    assert fanout.id in {b.id for b in client.broadcasts.list()}
    with pytest.raises(ValidationError) as info:
        client.broadcasts.update(fanout.id, mode="parallel")
    assert info.value.field == "mode" and "'sync'" in str(info.value)
    fanout.delete()
    assert fanout.id not in {b.id for b in client.broadcasts.list()}


def test_delayed_call_answers_202_and_runs_once(fresh_client: Any, service_id: Any) -> None:
    client = fresh_client
    small = client.services.get(service_id(client, "demo-small"))
    delayed = small.delayed(in_="1s")
    assert delayed.path == f"d/p/{small.id}?_in=1s"
    response = delayed.dispatch(path="chat/completions", json=_chat("later"))
    assert response.status_code == 202, response.text
    scheduled = response.json()
    assert scheduled["recurrent_request_id"] == scheduled["id"]
    deadline = time.monotonic() + 15
    while True:
        state = client.recurrent_requests.get(scheduled["id"]).state or {}
        if int(state.get("run_count") or 0) >= 1:
            break
        assert time.monotonic() < deadline, "the delayed call never ran"
        time.sleep(0.2)
    assert state["last_status_code"] == 200
    client.recurrent_requests.delete(scheduled["id"])


def test_recurrent_and_delayed_at_register_schedules(fresh_client: Any, service_id: Any) -> None:
    client = fresh_client
    small = client.services.get(service_id(client, "demo-small"))
    later = datetime.now(UTC) + timedelta(hours=1)
    response = (
        small.delayed(at=later).recurrent("1h").dispatch(path="chat/completions", json=_chat("r"))
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    first_run = datetime.fromisoformat(answer["next_run_at"])
    assert abs((first_run - later).total_seconds()) < 2
    created = client.recurrent_requests.get(answer["id"])
    assert created.status == "active"
    assert created.schedule is not None
    assert created.schedule.get("interval_seconds") == 3600, created.schedule
    client.recurrent_requests.delete(created.id)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda t: t.delayed(), "at"),
        (lambda t: t.delayed(at="2026-01-01T00:00:00Z", in_="5s"), "at"),
        (lambda t: t.delayed(in_="soon"), "in_"),
        (lambda t: t.delayed(at="tomorrow"), "at"),
        (lambda t: t.recurrent("0s"), "every"),
        (lambda t: t.recurrent(), "every"),
    ],
)
def test_bad_schedule_wrappers_are_refused_locally(
    fresh_client: Any, service_id: Any, make: Any, field: str
) -> None:
    small = fresh_client.services.get(service_id(fresh_client, "demo-small"))
    with pytest.raises(ValidationError) as info:
        make(small)
    assert info.value.field == field

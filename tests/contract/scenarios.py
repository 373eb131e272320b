"""Scenarios run with an official ``unitysvc-py`` release against our platform.

Run as ``python scenarios.py <name>`` with ``PYTHONPATH`` set to the release's install
directory (``OFFICIAL_SDK_DIR``), ``UNITYSVC_API_URL`` / ``UNITYSVC_API_KEY`` pointing at
the platform and inputs in ``SCENARIO_*`` variables (see ``conftest.run_scenario``). Each
scenario first checks that ``import unitysvc`` gave the official package of the expected
version, not this repository's SDK, then drives the platform with it and prints one JSON
object of observations, which the test asserts on.

pytest never imports this module (it is not a ``test_*`` file): it imports the official
``unitysvc``.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

DEADLINE_SECONDS = 30.0


def official() -> ModuleType:
    """The official SDK, after checking it is the one this run is about."""
    unitysvc = importlib.import_module("unitysvc")
    where = Path(unitysvc.__file__ or "").resolve()
    root = Path(os.environ["OFFICIAL_SDK_DIR"]).resolve()
    if root not in where.parents:
        raise SystemExit(f"imported {where}, not the official SDK installed under {root}")
    version = importlib.metadata.version("unitysvc-py")
    if version != os.environ["OFFICIAL_SDK_VERSION"]:
        raise SystemExit(
            f"unitysvc-py {version} imported, {os.environ['OFFICIAL_SDK_VERSION']} expected"
        )
    return unitysvc


def given(name: str) -> str:
    return os.environ[f"SCENARIO_{name.upper()}"]


def wait(probe: Callable[[], Any], what: str) -> Any:
    """Poll ``probe`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "demo-small", "messages": [{"role": "user", "content": text}], **extra}


def plain(value: Any) -> Any:
    """An official (attrs) model as plain JSON data."""
    return value.to_dict() if hasattr(value, "to_dict") else value


# -- scenarios of both releases --------------------------------------------------------


def catalog_and_secrets(u: ModuleType) -> dict[str, Any]:
    """Browse groups and services, read an access plan and documents, round-trip a secret."""
    client = u.Client.from_env()
    groups = client.groups.list()
    llm = client.groups.get("llm")
    services = {s.name: s for s in client.groups.services("all_services", limit=200).data}
    small = client.services.get(services["demo-small"].id)
    plan = client.services.access_plan(small.id)
    docs = client.services.documents(small.id)
    name = f"CONTRACT_{uuid.uuid4().hex[:8].upper()}"
    created = client.secrets.set(name, "a-secret-value", description="contract")
    read = client.secrets.get(name)
    listed = [s.name for s in client.secrets.list().data]
    client.secrets.delete(name)
    try:
        client.secrets.get(name)
        gone = False
    except u.exceptions.NotFoundError:
        gone = True
    return {
        "groups": [g.name for g in groups.data],
        "group_types": [str(g.group_type) for g in groups.data],
        "llm_type": str(llm.group_type),
        "services": sorted(services),
        "small_id": str(small.id),
        "small_detail": plain(small._raw),
        "interfaces": [i.base_url for i in client.services.interfaces(small.id)],
        "plan": plain(plan),
        "documents": [d.title for d in docs.documents],
        "secret": {
            "created": created is None or created.name == name,
            "sensitive": read.sensitive,
            "value_hidden": read.value in (None, u._generated.types.UNSET),
            "listed": name in listed,
            "gone": gone,
        },
    }


def enroll_and_dispatch(u: ModuleType) -> dict[str, Any]:
    """Enroll in the BYOE service (pointed at a chat upstream) and dispatch through it."""
    client = u.Client.from_env()
    services = {s.name: s for s in client.groups.services("all_services", limit=200).data}
    byoe = services["demo-byoe"]
    enrollment = client.enrollments.create(
        service_id=byoe.id, parameters={"base_url": given("byoe_base_url")}
    )
    pending = str(enrollment.status)

    def activated() -> Any:
        current = enrollment.refresh()
        return current if str(current.status) == "active" else None

    active = wait(activated, "the enrollment to activate")
    via = client.services.dispatch(
        byoe.id, enrollment=str(active.id), path="chat/completions", json=chat("via byoe")
    )
    small = client.services.dispatch(
        services["demo-small"].id, path="chat/completions", json=chat("hello there")
    )
    return {
        "pending": pending,
        "status": str(active.status),
        "code": active.code,
        "byoe_status": via.status_code,
        "byoe_reply": via.json()["choices"][0]["message"]["content"],
        "small_status": small.status_code,
        "small_usage": small.json()["usage"],
        "small_service_header": small.headers.get("x-unitysvc-service-id"),
        "listed": [str(e.id) for e in client.enrollments.list().data],
        "enrollment_id": str(active.id),
    }


def complete_log(u: ModuleType, big: str) -> dict[str, Any]:
    """Dispatch a large body to the echo service and read its request log back."""
    client = u.Client.from_env()
    marker = uuid.uuid4().hex[:12]
    sent = client.dispatch(f"echo/{marker}", json={"big": big})
    page = wait(
        lambda: client.request_logs.list(user_request_path=f"echo/{marker}").items,
        "the log row",
    )
    detail = client.request_logs.get(page[0].log_id)
    request_body = detail.user_request.body
    response_body = detail.upstream_response.body
    return {
        "sent_status": sent.status_code,
        "sent_bytes": len(sent.request.content),
        "request_body": request_body if isinstance(request_body, str) else plain(request_body),
        "response_body": response_body if isinstance(response_body, str) else plain(response_body),
        "usage_event": plain(detail.usage_event),
        "listed": len(page),
    }


# -- 0.1.22 -------------------------------------------------------------------------


def logging_switch_0122(u: ModuleType) -> dict[str, Any]:
    """``request_logs.start(...)`` / ``stop()`` as 0.1.22 has them; the mode in SCENARIO_MODE."""
    client = u.Client.from_env()
    action = given("action")
    if action == "start":
        status = client.request_logs.start(truncate_long_message=given("mode") == "truncated")
    else:
        status = client.request_logs.stop()
    return {"enabled": status.enabled}


def complete_mode_0122(u: ModuleType) -> dict[str, Any]:
    """0.1.22: logging on in complete mode, a large dispatch, the whole body logged."""
    client = u.Client.from_env()
    client.request_logs.start(truncate_long_message=False)
    result = complete_log(u, given("big"))
    chat_reply = client.dispatch("demo-small/v1/chat/completions", json=chat("count me"))
    usage = chat_reply.json()["usage"]
    marker_path = "demo-small/v1/chat/completions"
    rows = wait(lambda: client.request_logs.list(user_request_path=marker_path).items, "chat log")
    detail = client.request_logs.get(rows[0].log_id)
    client.request_logs.stop()
    result["chat_usage"] = usage
    result["chat_usage_event"] = plain(detail.usage_event)
    result["chat_charge_type"] = type(detail.usage_event.customer_charge).__name__
    return result


# -- 0.2.1 --------------------------------------------------------------------------


def preferences_021(u: ModuleType) -> dict[str, Any]:
    """Every preference operation, bad values and an unknown name included."""
    client = u.Client.from_env()
    prefs = client.preferences
    before = {p.name: plain(p) for p in prefs.list().data}
    on = prefs.set_request_log_mode("complete")
    read = prefs.get("request-log")
    cleared = prefs.clear("request-log")
    notify = prefs.set_notification("demo-small")
    ai = prefs.set_ai("demo-small")
    none = prefs.set_ai(None)
    errors: dict[str, Any] = {}
    for label, call in (
        ("bad_mode", lambda: prefs.set("request-log", "verbose")),
        ("bad_service", lambda: prefs.set_notification("nowhere/at-all")),
        ("unknown", lambda: prefs.get("colour")),
    ):
        try:
            call()
            errors[label] = None
        except u.exceptions.APIError as exc:
            errors[label] = {
                "type": type(exc).__name__,
                "status": exc.status_code,
                "detail": exc.detail,
            }
    return {
        "before": before,
        "on": plain(on),
        "read": plain(read),
        "cleared": plain(cleared),
        "notification": plain(notify),
        "ai": plain(ai),
        "ai_cleared": plain(none),
        "errors": errors,
        "after": {p.name: plain(p.value) for p in prefs.list().data},
    }


def request_log_preference_021(u: ModuleType) -> dict[str, Any]:
    """The ``request-log`` preference as 0.2.1 reads it."""
    pref = u.Client.from_env().preferences.get("request-log")
    return {"value": plain(pref.value), "source": plain(pref.source)}


def complete_mode_021(u: ModuleType) -> dict[str, Any]:
    """0.2.1: the request-log preference in complete mode, a large dispatch, logged whole."""
    client = u.Client.from_env()
    client.preferences.set_request_log_mode("complete")
    result = complete_log(u, given("big"))
    client.preferences.set_request_log_mode(None)
    return result


def cycle_usage_021(u: ModuleType) -> dict[str, Any]:
    """Known chat calls (buffered, streamed), an upstream error, then the cycle's usage."""
    from unitysvc._generated.api.customer import customer_get_cycle_usage
    from unitysvc._generated.models.cycle_usage_response import CycleUsageResponse

    client = u.Client.from_env()
    usages = []
    for text in ("one two three", "four five six seven eight"):
        reply = client.dispatch("demo-small/v1/chat/completions", json=chat(text))
        usages.append(reply.json()["usage"])
        streamed = client.dispatch("demo-small/v1/chat/completions", json=chat(text, stream=True))
        events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
        if events[-1] != "[DONE]" or any('"usage"' in e for e in events):
            raise SystemExit(f"the stream carried a usage chunk it did not ask for: {events}")
        usages.append(reply.json()["usage"])  # same prompt, same reply: same usage
    down = client.dispatch("demo-down/v1/chat/completions", json=chat("fail"))

    def cycle() -> Any:
        response = customer_get_cycle_usage.sync_detailed(client=client._client)
        if response.status_code != 200 or not isinstance(response.parsed, CycleUsageResponse):
            raise SystemExit(f"cycle usage answered {response.status_code}: {response.content!r}")
        return response.parsed

    def settled() -> Any:
        parsed = cycle()
        counts = {s.service_name: s.request_count for s in parsed.services}
        return parsed if counts.get("demo-small") == 4 and counts.get("demo-down") == 1 else None

    parsed = wait(settled, "the metered calls")
    bad = customer_get_cycle_usage.sync_detailed(
        client=client._client, cycle_start=datetime.date(2026, 2, 15)
    )
    return {
        "usages": usages,
        "down_status": down.status_code,
        "cycle": plain(parsed),
        "types": {
            "cycle_start": type(parsed.cycle_start).__name__,
            "as_of": type(parsed.as_of).__name__,
            "services": [type(s).__name__ for s in parsed.services],
            "metrics": [type(s.usage_metrics).__name__ for s in parsed.services],
        },
        "bad_cycle_start": {"status": int(bad.status_code), "body": json.loads(bad.content)},
    }


def other_cycle_021(u: ModuleType) -> dict[str, Any]:
    """Another customer's view of the current cycle."""
    from unitysvc._generated.api.customer import customer_get_cycle_usage

    client = u.Client.from_env()
    parsed = customer_get_cycle_usage.sync_detailed(client=client._client).parsed
    return {"cycle": plain(parsed)}


def wrappers_021(u: ModuleType) -> dict[str, Any]:
    """0.2.1's delayed() / recurrent() wrappers, and a group's merged models listing."""
    client = u.Client.from_env()
    services = {s.name: s for s in client.groups.services("all_services", limit=200).data}
    echo = services["echo"]
    delayed = echo.delayed(_in="1s").dispatch(json={"when": "later"})
    delayed_id = delayed.json()["id"]

    def ran(request_id: str, times: int) -> Callable[[], Any]:
        def probe() -> Any:
            current = client.recurrent_requests.get(request_id)
            return current if plain(current.state)["run_count"] >= times else None

        return probe

    fired = wait(ran(delayed_id, 1), "the delayed call to fire")
    recurring = echo.recurrent(_every="1s").dispatch(json={"n": 1})
    recurring_id = recurring.json()["id"]
    runs = wait(ran(recurring_id, 2), "two recurrent runs")
    client.recurrent_requests.delete(recurring_id)
    listed = [str(r.id) for r in client.recurrent_requests.list().data]
    models = client.dispatch("g/llm/v1/models", method="GET")
    return {
        "delayed_status": delayed.status_code,
        "delayed": delayed.json(),
        "fired_state": plain(fired.state),
        "fired_schedule": plain(fired.schedule),
        "recurring_status": recurring.status_code,
        "recurring_runs": plain(runs.state)["run_count"],
        "listed_after_delete": recurring_id in listed,
        "delayed_listed": delayed_id in listed,
        "models": [m["id"] for m in models.json()["data"]],
    }


SCENARIOS: dict[str, Callable[[ModuleType], dict[str, Any]]] = {
    "catalog_and_secrets": catalog_and_secrets,
    "enroll_and_dispatch": enroll_and_dispatch,
    "logging_switch_0122": logging_switch_0122,
    "complete_mode_0122": complete_mode_0122,
    "preferences_021": preferences_021,
    "request_log_preference_021": request_log_preference_021,
    "complete_mode_021": complete_mode_021,
    "cycle_usage_021": cycle_usage_021,
    "other_cycle_021": other_cycle_021,
    "wrappers_021": wrappers_021,
}


def main() -> int:
    result = SCENARIOS[sys.argv[1]](official())
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

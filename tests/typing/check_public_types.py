"""Static checks of the public API's types (run by mypy --strict in CI, never imported).

Sync methods must return values and async methods coroutines, from one source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Literal, assert_type

import httpx

import unitysvc
from unitysvc.broadcasts import Broadcast
from unitysvc.chains import AsyncChain, Chain
from unitysvc.enrollments import AsyncEnrollment, Enrollment
from unitysvc.groups import AsyncGroup, Group
from unitysvc.models import (
    AccessInterface,
    AccessPlan,
    AccountFileDownloadResponse,
    BudgetPublic,
    BudgetsPublic,
    BudgetStatus,
    ChainStepPublic,
    CycleUsageResponse,
    Message,
    PreferencePublic,
    PreferencesPublic,
    ResolveResponse,
    SecretPublic,
    SecretsPublic,
)
from unitysvc.services import AsyncService, Service


def sync_usage(client: unitysvc.Client) -> None:
    assert_type(client.secrets.list(), SecretsPublic)
    assert_type(client.secrets.get("X"), SecretPublic)
    assert_type(client.secrets.delete("X"), Message)
    assert_type(client.secrets.iter(), Iterator[SecretPublic])
    # Per-call options are typed keyword arguments of every method.
    assert_type(client.secrets.list(timeout=5, extra_headers={"X-Trace": "t"}), SecretsPublic)
    assert_type(client.secrets.get("X", extra_query={"a": 1}, idempotency_key="k"), SecretPublic)
    assert_type(client.with_options(timeout=None, max_retries=0), unitysvc.Client)
    client.groups.update("g", description=None)  # None clears; NOT_GIVEN (omitted) keeps
    client.groups.update("g", enabled=unitysvc.NOT_GIVEN)
    assert_type(client.dispatch("p/x"), httpx.Response)
    assert_type(client.resolve(path="g/llm"), ResolveResponse)
    svc = client.services.get("abc")
    assert_type(svc.interfaces(), list[AccessInterface])
    assert_type(svc.dispatch(json={}), httpx.Response)
    assert_type(svc.cached(ttl="1h").logged().dispatch(json={}), httpx.Response)
    with client.services.stream("abc", json={}) as stream:
        for event in stream.iter_events():
            assert_type(event.kind, Literal["sse", "ndjson", "line", "bytes", "done"])


async def async_usage(client: unitysvc.AsyncClient) -> None:
    assert_type(await client.secrets.list(), SecretsPublic)
    assert_type(await client.secrets.list(timeout=2.5), SecretsPublic)
    assert_type(client.with_options(max_retries=1), unitysvc.AsyncClient)
    assert_type(client.secrets.iter(), AsyncIterator[SecretPublic])
    assert_type(await client.dispatch("p/x"), httpx.Response)
    assert_type(await client.resolve(path="g/llm"), ResolveResponse)
    svc = await client.services.get("abc")
    assert_type(await svc.interfaces(), list[AccessInterface])
    assert_type(await svc.cached().dispatch(json={}), httpx.Response)
    group = await client.groups.get("llm")
    page = await group.services()
    assert_type(len(page), int)


def records_are_the_public_classes(client: unitysvc.Client) -> None:
    # Users annotate with the public names; forwarded methods keep the flavour.
    group: Group = client.groups.get("llm")
    service: Service = client.services.get("abc")
    enrollment: Enrollment = client.enrollments.get("e")
    enrollment = enrollment.wait()
    assert_type(enrollment.refresh(), Enrollment)
    assert_type(service.enroll(), Enrollment)
    assert_type(group.refresh(), Group)
    for member in client.groups.iter_services("llm"):
        assert_type(member, Service)
    for listed in client.groups.list():
        assert_type(listed, Group)
    assert_type(client.groups.services("llm")[0], Service)
    assert_type(client.enrollments.list()[0], Enrollment)
    for each in client.enrollments.iter():
        assert_type(each, Enrollment)


async def async_records_are_the_public_classes(client: unitysvc.AsyncClient) -> None:
    group: AsyncGroup = await client.groups.get("llm")
    service: AsyncService = await client.services.get("abc")
    enrollment: AsyncEnrollment = await service.enroll()
    assert_type(await enrollment.wait(), AsyncEnrollment)
    assert_type(await group.refresh(), AsyncGroup)
    async for member in client.groups.iter_services("llm"):
        assert_type(member, AsyncService)


def list_envelopes_are_typed_sequences(client: unitysvc.Client) -> None:
    page = client.secrets.list()
    assert_type(len(page), int)
    assert_type(page[0], SecretPublic)
    for secret in page:
        assert_type(secret, SecretPublic)


def account_resources_are_typed(client: unitysvc.Client) -> None:
    assert_type(client.preferences.list(), PreferencesPublic)
    assert_type(client.preferences.set_request_log_mode("complete"), PreferencePublic)
    assert_type(client.preferences.set_ai("demo-small", gateway="api"), PreferencePublic)
    assert_type(client.preferences.set("ai", {"service": "x"}), PreferencePublic)
    cycle = client.usage.cycle("2026-04-01")
    assert_type(cycle, CycleUsageResponse)
    for entry in cycle.services or []:
        if entry.usage_metrics is not None:
            assert_type(entry.usage_metrics.input_tokens, float | None)
            assert_type(entry.usage_metrics["bytes_in"], float)
    assert_type(client.files.upload("a.txt", "docs"), str)
    assert_type(client.files.download("docs/a.txt"), Path)
    chain: Chain = client.chains.create(name="c", steps=[{"name": "s", "target_path": "g/llm"}])
    assert_type(chain.add_step(name="n", target_path=chain, sort_order=1), ChainStepPublic)
    assert_type(chain.dispatch(json={}), httpx.Response)
    broadcast: Broadcast = client.broadcasts.get("b")
    assert_type(broadcast.refresh(), Broadcast)
    assert_type(broadcast.delayed(in_="5m").dispatch(json={}), httpx.Response)
    assert_type(client.services.access_plan("abc"), AccessPlan)


async def async_account_resources_are_typed(client: unitysvc.AsyncClient) -> None:
    assert_type(await client.preferences.get("request-log"), PreferencePublic)
    assert_type(await client.usage.cycle(), CycleUsageResponse)
    chain: AsyncChain = await client.chains.get("c")
    assert_type(await chain.recurrent("1h").dispatch(json={}), httpx.Response)
    assert_type(await client.files.download_url("a.txt"), AccountFileDownloadResponse)


def budgets_are_typed(client: unitysvc.Client) -> None:
    budget = client.budgets.create("monthly", cap=Decimal("25"), alert_threshold="20")
    assert_type(budget, BudgetPublic)
    assert_type(budget.status, BudgetStatus)
    assert_type(client.budgets.list(), BudgetsPublic)
    assert_type(client.budgets.update(budget, cap=30, alert_threshold=None), BudgetPublic)
    assert_type(client.budgets.status(budget.id), BudgetStatus)
    assert_type(client.budgets.delete(budget), None)


async def async_budgets_are_typed(client: unitysvc.AsyncClient) -> None:
    assert_type(await client.budgets.list(), BudgetsPublic)
    budget = await client.budgets.create("k", cap="1", scope="key", target="svcpass_abcd")
    assert_type(await client.budgets.status(budget), BudgetStatus)

"""Chains: ordered steps that branch on success and failure (``/v1/chains``, ``c/<name>``).

A chain runs its steps in ``sort_order``; each step's ``on_success`` /
``on_failure`` says what follows: ``stop`` (answer with this step's response),
``relay`` (send the original request on to the next step) or ``continue`` (send
this step's response body to the next step). The platform's defaults, ``stop`` on
success and ``relay`` on failure, make a failover chain; ``continue`` on success
makes a pipeline. The last step always answers.
Chains are managed by id and dispatched by name at ``c/<name>``.

Example::

    chain = client.chains.create(
        name="llm-failover",
        steps=[
            {"name": "primary", "target_path": "p/<service-id>"},
            {"name": "backup", "target_path": "g/llm"},
        ],
    )
    response = chain.dispatch(path="chat/completions", json={...})   # POST c/llm-failover/...
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, Unpack, cast
from uuid import UUID

from unitysvc._core import NOT_GIVEN, Flow, NotGiven, PageFlow, RequestOptions, parse
from unitysvc._gateway import Dispatchable, Wrappable
from unitysvc._ops import Async, Context, M, Sync, forward, op, pager
from unitysvc._records import NamedRecordMixin, Page, T, pick_class
from unitysvc._resource import (
    Resource,
    given,
    next_cursor_of,
    record_id,
    walk_offset_or_cursor,
)
from unitysvc._wrappers import gateway_relative
from unitysvc.exceptions import invalid_argument
from unitysvc.models import ChainPublic, ChainsPublic, ChainStepPublic

__all__ = ["AsyncChain", "AsyncChains", "Chain", "ChainListPage", "Chains", "StepTarget"]

#: Where a step sends the call: a gateway path, or a service, group, chain ... record.
StepTarget: TypeAlias = "str | Wrappable[Any]"


class ChainListPage(Page[T]):
    """The customer's chains (``data`` of :class:`Chain`, ``count``)."""


def _steps(steps: Sequence[Mapping[str, object]]) -> builtins.list[dict[str, Any]]:
    """The step list as sent: ``sort_order`` defaulting to the position, targets as paths.

    Raises:
        ValidationError: A step without ``name`` or ``target_path``.
    """
    out = []
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping) or "name" not in step or "target_path" not in step:
            raise invalid_argument(
                f"steps[{index}]",
                step,
                "each step is a dict with 'name' and 'target_path'",
                "plus optional sort_order, on_success, on_failure, timeout_ms",
            )
        body = {"sort_order": index, **{k: v for k, v in step.items() if v is not None}}
        body["target_path"] = gateway_relative(step["target_path"], what="target_path")
        out.append(body)
    return out


class _ChainsOps(Resource[M], Generic[M]):
    def _wrap(self, record: ChainPublic) -> _ChainRecord[M]:
        cls = pick_class(self._ctx, Chain, AsyncChain)
        result: _ChainRecord[M] = cls(self._ctx, record)
        return result

    def _chain(self, method: str, path: str, options: RequestOptions, **kw: Any) -> Flow[Any]:
        response = yield from self._call(method, path, options=options, **kw)
        return self._wrap(parse(ChainPublic, response))

    def _page(
        self, skip: int, limit: int, shared: bool, cursor: str | None, options: RequestOptions
    ) -> Flow[ChainsPublic]:
        response = yield from self._call(
            "GET",
            "/chains/",
            params={"skip": skip, "limit": limit, "shared": shared or None, "cursor": cursor},
            options=options,
        )
        return parse(ChainsPublic, response)

    @op
    def list(
        self,
        *,
        skip: int = 0,
        limit: int = 100,
        shared: bool = False,
        cursor: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[ChainListPage[_ChainRecord[M]]]:
        """List the customer's chains, by name.

        Args:
            skip: Rows to skip.
            limit: Page size.
            shared: List the team's shared chains instead of your own.
            cursor: The ``next_cursor`` of the previous page (keyset paging, a unitysvc
                server extension; not combined with ``skip``). Omit for the first page.
        """
        page = yield from self._page(skip, limit, shared, cursor, options)
        return ChainListPage(
            [self._wrap(row) for row in page.data],
            count=page.count,
            next_cursor=page.next_cursor,
            has_more=page.next_cursor is not None,
        )

    @pager
    def iter(
        self,
        *,
        shared: bool = False,
        page_size: int = 100,
        **options: Unpack[RequestOptions],
    ) -> PageFlow[_ChainRecord[M]]:
        """Iterate over every one of the customer's chains, by name, page by page.

        Follows the server's ``next_cursor`` when it gives one (each page as cheap as
        the first); by ``skip``/``limit`` on a server without cursors.
        """
        yield from walk_offset_or_cursor(
            lambda skip, limit, cursor: self._page(skip, limit, shared, cursor, options),
            lambda page: [self._wrap(row) for row in page.data],
            next_cursor_of,
            page_size,
        )

    @op
    def get(self, chain_id: str | UUID, **options: Unpack[RequestOptions]) -> Flow[_ChainRecord[M]]:
        """Get one chain, with its steps, by id.

        Raises:
            NotFoundError: No chain of yours with that id.
        """
        chain: _ChainRecord[M] = yield from self._chain(
            "GET", f"/chains/{record_id(chain_id)}", options
        )
        return chain

    @op
    def create(
        self,
        *,
        name: str,
        description: str | None = None,
        default_timeout_ms: int = 10000,
        enabled: bool = True,
        steps: Sequence[Mapping[str, object]] | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[_ChainRecord[M]]:
        """Create a chain, dispatchable at ``c/<name>``.

        Args:
            name: The chain's name (its gateway address).
            description: Free text.
            default_timeout_ms: Per-step timeout unless a step sets its own.
            enabled: Whether ``c/<name>`` answers.
            steps: Dicts with ``name`` and ``target_path`` (a gateway path or a
                service/group/... record), optional ``sort_order`` (default: the
                position), ``on_success`` (default ``"stop"``), ``on_failure``
                (default ``"relay"``: on to the next step) and ``timeout_ms``.

        Raises:
            ConflictError: You have a chain of that name.
            ValidationError: A malformed step (the message names it).
        """
        body: dict[str, object] = {
            "name": name,
            "default_timeout_ms": default_timeout_ms,
            "enabled": enabled,
        }
        if description is not None:
            body["description"] = description
        if steps is not None:
            body["steps"] = _steps(steps)
        chain: _ChainRecord[M] = yield from self._chain(
            "POST", "/chains/", options, json=body, creates=True
        )
        return chain

    @op
    def update(
        self,
        chain_id: str | UUID,
        *,
        description: str | None | NotGiven = NOT_GIVEN,
        default_timeout_ms: int | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Flow[_ChainRecord[M]]:
        """Change a chain's description, default timeout or enabled flag (only those passed)."""
        body = given(
            description=description, default_timeout_ms=default_timeout_ms, enabled=enabled
        )
        chain: _ChainRecord[M] = yield from self._chain(
            "PATCH", f"/chains/{record_id(chain_id)}", options, json=body
        )
        return chain

    @op
    def delete(self, chain_id: str | UUID, **options: Unpack[RequestOptions]) -> Flow[None]:
        """Delete a chain and its steps."""
        yield from self._call("DELETE", f"/chains/{record_id(chain_id)}", options=options)

    @op
    def add_step(
        self,
        chain_id: str | UUID,
        *,
        name: str,
        target_path: StepTarget,
        sort_order: int,
        on_success: str | None = None,
        on_failure: str | None = None,
        timeout_ms: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[ChainStepPublic]:
        """Add one step to a chain.

        Args:
            chain_id: The chain.
            name: The step's name.
            target_path: Where it sends the call: a gateway path or a record.
            sort_order: Its position.
            on_success: ``stop``, ``relay`` or ``continue`` after a success (None:
                the platform's default, ``stop``).
            on_failure: ``stop``, ``relay`` or ``continue`` after a failure (None:
                the platform's default, ``relay``).
            timeout_ms: This step's timeout (default: the chain's).
        """
        [body] = _steps(
            [
                {
                    "name": name,
                    "target_path": target_path,
                    "sort_order": sort_order,
                    "on_success": on_success,
                    "on_failure": on_failure,
                    "timeout_ms": timeout_ms,
                }
            ]
        )
        response = yield from self._call(
            "POST",
            f"/chains/{record_id(chain_id)}/steps",
            json=body,
            creates=True,
            options=options,
        )
        return parse(ChainStepPublic, response)

    @op
    def update_step(
        self,
        chain_id: str | UUID,
        step_id: str | UUID,
        *,
        name: str | NotGiven = NOT_GIVEN,
        target_path: StepTarget | NotGiven = NOT_GIVEN,
        on_success: str | NotGiven = NOT_GIVEN,
        on_failure: str | NotGiven = NOT_GIVEN,
        timeout_ms: int | None | NotGiven = NOT_GIVEN,
        sort_order: int | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Flow[ChainStepPublic]:
        """Change one step (only the fields passed)."""
        if not isinstance(target_path, NotGiven):
            target_path = gateway_relative(target_path, what="target_path")
        body = given(
            name=name,
            target_path=target_path,
            on_success=on_success,
            on_failure=on_failure,
            timeout_ms=timeout_ms,
            sort_order=sort_order,
        )
        response = yield from self._call(
            "PATCH",
            f"/chains/{record_id(chain_id)}/steps/{record_id(step_id)}",
            json=body,
            options=options,
        )
        return parse(ChainStepPublic, response)

    @op
    def remove_step(
        self, chain_id: str | UUID, step_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[None]:
        """Remove one step from a chain."""
        path = f"/chains/{record_id(chain_id)}/steps/{record_id(step_id)}"
        yield from self._call("DELETE", path, options=options)

    @op
    def replace_steps(
        self,
        chain_id: str | UUID,
        steps: Sequence[Mapping[str, object]],
        **options: Unpack[RequestOptions],
    ) -> Flow[_ChainRecord[M]]:
        """Replace every step of a chain at once (same step dicts as :meth:`create`).

        Returns:
            The chain with its new steps.
        """
        chain: _ChainRecord[M] = yield from self._chain(
            "PUT", f"/chains/{record_id(chain_id)}/steps", options, json=_steps(steps)
        )
        return chain


class Chains(_ChainsOps[Sync]):
    """Operations on the customer's chains (``/v1/chains``)."""


class AsyncChains(_ChainsOps[Async]):
    """Async operations on the customer's chains (``/v1/chains``)."""


class _ChainRecord(NamedRecordMixin[ChainPublic], Dispatchable[M], Generic[M]):
    """A chain with its operations pre-bound; dispatch it at ``c/<name>``."""

    def __init__(self, client: Context, record: ChainPublic) -> None:
        super().__init__(client)
        self._record = record
        self._manager: _ChainsOps[M] = _ChainsOps(client)

    @property
    def path(self) -> str:
        """Gateway path of this chain: ``c/<name>``."""
        return f"c/{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, id={str(self.id)!r})"

    @op
    def refresh(self, **options: Unpack[RequestOptions]) -> Flow[_ChainRecord[M]]:
        """Fetch the chain again (latest steps and settings)."""
        record = yield from _ChainsOps.get.flow(self._manager, self.id, **options)
        return cast("_ChainRecord[M]", record)

    update = forward(_ChainsOps[M].update, "id")
    delete = forward(_ChainsOps[M].delete, "id")
    add_step = forward(_ChainsOps[M].add_step, "id")
    update_step = forward(_ChainsOps[M].update_step, "id")
    remove_step = forward(_ChainsOps[M].remove_step, "id")
    replace_steps = forward(_ChainsOps[M].replace_steps, "id")


if TYPE_CHECKING:
    Chain: TypeAlias = _ChainRecord[Sync]
    AsyncChain: TypeAlias = _ChainRecord[Async]
else:

    class Chain(_ChainRecord[Sync]):
        """A request chain (active record over ``ChainPublic``), dispatchable at ``c/<name>``."""

    class AsyncChain(_ChainRecord[Async]):
        """Async flavour of :class:`Chain`."""

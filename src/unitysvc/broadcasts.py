"""Broadcasts: one call fanned out to many targets (``/v1/broadcasts``, ``b/<name>``).

In ``sync`` mode the gateway calls every target in parallel and answers one
envelope of their results; in ``async`` mode it answers at once and the targets
are called in the background. Broadcasts are managed by id and dispatched by name
at ``b/<name>``.

Example::

    fanout = client.broadcasts.create(
        name="compare",
        targets=[
            {"name": "small", "target_path": "p/<small-id>"},
            {"name": "large", "target_path": "p/<large-id>"},
        ],
    )
    envelope = fanout.dispatch(path="chat/completions", json={...}).json()
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, Unpack, cast, get_args
from uuid import UUID

from unitysvc._core import NOT_GIVEN, Flow, NotGiven, PageFlow, RequestOptions, parse
from unitysvc._gateway import Dispatchable
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
from unitysvc.chains import StepTarget
from unitysvc.exceptions import invalid_argument
from unitysvc.models import BroadcastPublic, BroadcastsPublic, BroadcastTargetPublic

__all__ = [
    "AsyncBroadcast",
    "AsyncBroadcasts",
    "Broadcast",
    "BroadcastListPage",
    "BroadcastMode",
    "Broadcasts",
]

BroadcastMode: TypeAlias = Literal["sync", "async"]
_MODES: tuple[str, ...] = get_args(BroadcastMode)


class BroadcastListPage(Page[T]):
    """The customer's broadcasts (``data`` of :class:`Broadcast`, ``count``)."""


def _mode(mode: object) -> str:
    if mode not in _MODES:
        raise invalid_argument(
            "mode",
            mode,
            "'sync' (one envelope of every target's answer) or 'async' (answer at once, "
            "call the targets in the background)",
        )
    return str(mode)


def _targets(targets: Sequence[Mapping[str, object]]) -> builtins.list[dict[str, Any]]:
    """The target list as sent: ``sort_order`` defaulting to the position, paths resolved.

    Raises:
        ValidationError: A target without ``name`` or ``target_path``.
    """
    out = []
    for index, target in enumerate(targets):
        if not isinstance(target, Mapping) or "name" not in target or "target_path" not in target:
            raise invalid_argument(
                f"targets[{index}]",
                target,
                "each target is a dict with 'name' and 'target_path'",
                "plus optional routing_key_override and sort_order",
            )
        body = {"sort_order": index, **target}
        body["target_path"] = gateway_relative(target["target_path"], what="target_path")
        out.append(body)
    return out


class _BroadcastsOps(Resource[M], Generic[M]):
    def _wrap(self, record: BroadcastPublic) -> _BroadcastRecord[M]:
        cls = pick_class(self._ctx, Broadcast, AsyncBroadcast)
        result: _BroadcastRecord[M] = cls(self._ctx, record)
        return result

    def _broadcast(self, method: str, path: str, options: RequestOptions, **kw: Any) -> Flow[Any]:
        response = yield from self._call(method, path, options=options, **kw)
        return self._wrap(parse(BroadcastPublic, response))

    def _page(
        self, skip: int, limit: int, shared: bool, cursor: str | None, options: RequestOptions
    ) -> Flow[BroadcastsPublic]:
        response = yield from self._call(
            "GET",
            "/broadcasts/",
            params={"skip": skip, "limit": limit, "shared": shared or None, "cursor": cursor},
            options=options,
        )
        return parse(BroadcastsPublic, response)

    @op
    def list(
        self,
        *,
        skip: int = 0,
        limit: int = 100,
        shared: bool = False,
        cursor: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[BroadcastListPage[_BroadcastRecord[M]]]:
        """List the customer's broadcasts, by name.

        Args:
            skip: Rows to skip.
            limit: Page size.
            shared: List the team's shared broadcasts instead of your own.
            cursor: The ``next_cursor`` of the previous page (keyset paging, a unitysvc
                server extension; not combined with ``skip``). Omit for the first page.
        """
        page = yield from self._page(skip, limit, shared, cursor, options)
        return BroadcastListPage(
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
    ) -> PageFlow[_BroadcastRecord[M]]:
        """Iterate over every one of the customer's broadcasts, by name, page by page.

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
    def get(
        self, broadcast_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[_BroadcastRecord[M]]:
        """Get one broadcast, with its targets, by id.

        Raises:
            NotFoundError: No broadcast of yours with that id.
        """
        found: _BroadcastRecord[M] = yield from self._broadcast(
            "GET", f"/broadcasts/{record_id(broadcast_id)}", options
        )
        return found

    @op
    def create(
        self,
        *,
        name: str,
        description: str | None = None,
        mode: BroadcastMode = "sync",
        target_timeout_ms: int = 30000,
        enabled: bool = True,
        targets: Sequence[Mapping[str, object]] | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[_BroadcastRecord[M]]:
        """Create a broadcast, dispatchable at ``b/<name>``.

        Args:
            name: The broadcast's name (its gateway address).
            description: Free text.
            mode: ``"sync"`` (an envelope of results) or ``"async"`` (answer at once).
            target_timeout_ms: How long each target may take.
            enabled: Whether ``b/<name>`` answers.
            targets: Dicts with ``name`` and ``target_path`` (a gateway path or a
                record), optional ``routing_key_override`` and ``sort_order``.

        Raises:
            ConflictError: You have a broadcast of that name.
            ValidationError: A bad mode or a malformed target (the message names it).
        """
        body: dict[str, object] = {
            "name": name,
            "mode": _mode(mode),
            "target_timeout_ms": target_timeout_ms,
            "enabled": enabled,
        }
        if description is not None:
            body["description"] = description
        if targets is not None:
            body["targets"] = _targets(targets)
        found: _BroadcastRecord[M] = yield from self._broadcast(
            "POST", "/broadcasts/", options, json=body, creates=True
        )
        return found

    @op
    def update(
        self,
        broadcast_id: str | UUID,
        *,
        description: str | None | NotGiven = NOT_GIVEN,
        mode: BroadcastMode | NotGiven = NOT_GIVEN,
        target_timeout_ms: int | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Flow[_BroadcastRecord[M]]:
        """Change a broadcast's settings (only the fields passed)."""
        body = given(
            description=description,
            mode=mode if isinstance(mode, NotGiven) else _mode(mode),
            target_timeout_ms=target_timeout_ms,
            enabled=enabled,
        )
        found: _BroadcastRecord[M] = yield from self._broadcast(
            "PATCH", f"/broadcasts/{record_id(broadcast_id)}", options, json=body
        )
        return found

    @op
    def delete(self, broadcast_id: str | UUID, **options: Unpack[RequestOptions]) -> Flow[None]:
        """Delete a broadcast and its targets."""
        yield from self._call("DELETE", f"/broadcasts/{record_id(broadcast_id)}", options=options)

    @op
    def add_target(
        self,
        broadcast_id: str | UUID,
        *,
        name: str,
        target_path: StepTarget,
        routing_key_override: Mapping[str, object] | None = None,
        sort_order: int = 0,
        **options: Unpack[RequestOptions],
    ) -> Flow[BroadcastTargetPublic]:
        """Add one target to a broadcast.

        Args:
            broadcast_id: The broadcast.
            name: The target's name (its key in the sync envelope).
            target_path: A gateway path or a record.
            routing_key_override: Routing key sent to this target instead of the call's.
            sort_order: Its position.
        """
        target: dict[str, Any] = {"name": name, "target_path": target_path}
        target["sort_order"] = sort_order
        if routing_key_override is not None:
            target["routing_key_override"] = dict(routing_key_override)
        [body] = _targets([target])
        response = yield from self._call(
            "POST",
            f"/broadcasts/{record_id(broadcast_id)}/targets",
            json=body,
            creates=True,
            options=options,
        )
        return parse(BroadcastTargetPublic, response)

    @op
    def remove_target(
        self, broadcast_id: str | UUID, target_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[None]:
        """Remove one target from a broadcast."""
        path = f"/broadcasts/{record_id(broadcast_id)}/targets/{record_id(target_id)}"
        yield from self._call("DELETE", path, options=options)

    @op
    def replace_targets(
        self,
        broadcast_id: str | UUID,
        targets: Sequence[Mapping[str, object]],
        **options: Unpack[RequestOptions],
    ) -> Flow[_BroadcastRecord[M]]:
        """Replace every target of a broadcast at once (same dicts as :meth:`create`).

        Returns:
            The broadcast with its new targets.
        """
        found: _BroadcastRecord[M] = yield from self._broadcast(
            "PUT", f"/broadcasts/{record_id(broadcast_id)}/targets", options, json=_targets(targets)
        )
        return found


class Broadcasts(_BroadcastsOps[Sync]):
    """Operations on the customer's broadcasts (``/v1/broadcasts``)."""


class AsyncBroadcasts(_BroadcastsOps[Async]):
    """Async operations on the customer's broadcasts (``/v1/broadcasts``)."""


class _BroadcastRecord(NamedRecordMixin[BroadcastPublic], Dispatchable[M], Generic[M]):
    """A broadcast with its operations pre-bound; dispatch it at ``b/<name>``."""

    def __init__(self, client: Context, record: BroadcastPublic) -> None:
        super().__init__(client)
        self._record = record
        self._manager: _BroadcastsOps[M] = _BroadcastsOps(client)

    @property
    def path(self) -> str:
        """Gateway path of this broadcast: ``b/<name>``."""
        return f"b/{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, id={str(self.id)!r})"

    @op
    def refresh(self, **options: Unpack[RequestOptions]) -> Flow[_BroadcastRecord[M]]:
        """Fetch the broadcast again (latest targets and settings)."""
        record = yield from _BroadcastsOps.get.flow(self._manager, self.id, **options)
        return cast("_BroadcastRecord[M]", record)

    update = forward(_BroadcastsOps[M].update, "id")
    delete = forward(_BroadcastsOps[M].delete, "id")
    add_target = forward(_BroadcastsOps[M].add_target, "id")
    remove_target = forward(_BroadcastsOps[M].remove_target, "id")
    replace_targets = forward(_BroadcastsOps[M].replace_targets, "id")


if TYPE_CHECKING:
    Broadcast: TypeAlias = _BroadcastRecord[Sync]
    AsyncBroadcast: TypeAlias = _BroadcastRecord[Async]
else:

    class Broadcast(_BroadcastRecord[Sync]):
        """A broadcast (active record over ``BroadcastPublic``), dispatchable at ``b/<name>``."""

    class AsyncBroadcast(_BroadcastRecord[Async]):
        """Async flavour of :class:`Broadcast`."""

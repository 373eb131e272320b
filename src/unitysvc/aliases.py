"""Aliases: the customer's movable gateway names ``a/<name>`` (``/v1/aliases``).

An alias points a stable name at a target path; several rows may share a name and
:meth:`Aliases.switch` moves routing between them atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Unpack
from uuid import UUID

from unitysvc._core import Flow, PageFlow, RequestOptions, dump, parse, parse_json
from unitysvc._ops import Async, M, Sync, op, pager
from unitysvc._resource import Resource, next_cursor_of, walk_offset_or_cursor
from unitysvc.models import (
    ServiceAliasCreate,
    ServiceAliasesPublic,
    ServiceAliasPublic,
    ServiceAliasUpdate,
    SwitchRoutingResponse,
)

__all__ = ["Aliases", "AsyncAliases"]


class _AliasesOps(Resource[M], Generic[M]):
    @op
    def list(
        self,
        *,
        skip: int = 0,
        limit: int = 100,
        name: str | None = None,
        include_deactivated: bool = False,
        cursor: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[ServiceAliasesPublic]:
        """List aliases owned by the authenticated customer, oldest first.

        Args:
            skip: Rows to skip.
            limit: Page size.
            name: Only the rows of this name.
            include_deactivated: Deactivated rows too.
            cursor: The ``next_cursor`` of the previous page (keyset paging, a unitysvc
                server extension; not combined with ``skip``). Omit for the first page.
        """
        response = yield from self._call(
            "GET",
            "/aliases/",
            params={
                "skip": skip,
                "limit": limit,
                "name": name,
                "include_deactivated": include_deactivated,
                "cursor": cursor,
            },
            options=options,
        )
        return parse(ServiceAliasesPublic, response)

    @pager
    def iter(
        self,
        *,
        name: str | None = None,
        include_deactivated: bool = False,
        page_size: int = 100,
        **options: Unpack[RequestOptions],
    ) -> PageFlow[ServiceAliasPublic]:
        """Iterate over every alias, page by page.

        Follows the server's ``next_cursor`` when it gives one (each page as cheap as
        the first); by ``skip``/``limit`` on a server without cursors.
        """
        yield from walk_offset_or_cursor(
            lambda skip, limit, cursor: _AliasesOps.list.flow(
                self,
                skip=skip,
                limit=limit,
                name=name,
                include_deactivated=include_deactivated,
                cursor=cursor,
                **options,
            ),
            lambda page: page.data,
            next_cursor_of,
            page_size,
        )

    @op
    def get(
        self, alias_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[ServiceAliasPublic]:
        """Get a single alias by id."""
        response = yield from self._call("GET", f"/aliases/{alias_id}", options=options)
        return parse(ServiceAliasPublic, response)

    @op
    def create(
        self, body: ServiceAliasCreate | Mapping[str, object], **options: Unpack[RequestOptions]
    ) -> Flow[ServiceAliasPublic]:
        """Create a new alias.

        Args:
            body: ``name``, ``target_path`` (e.g. ``g/llm``), and optionally
                ``request_routing_key``, ``routing_key_override``, ``description``,
                ``is_routing``.
        """
        response = yield from self._call(
            "POST", "/aliases/", json=dump(body), creates=True, options=options
        )
        return parse(ServiceAliasPublic, response)

    @op
    def update(
        self,
        alias_id: str | UUID,
        body: ServiceAliasUpdate | Mapping[str, object],
        **options: Unpack[RequestOptions],
    ) -> Flow[ServiceAliasPublic]:
        """Update an alias; only the fields in ``body`` change (the name is fixed)."""
        response = yield from self._call(
            "PATCH", f"/aliases/{alias_id}", json=dump(body), options=options
        )
        return parse(ServiceAliasPublic, response)

    @op
    def switch(
        self,
        identifier: str | UUID,
        *,
        target: str | None = None,
        routing_key: str | None = None,
        on: bool = True,
        **options: Unpack[RequestOptions],
    ) -> Flow[SwitchRoutingResponse]:
        """Switch routing to an alias row, demoting its routing sibling atomically.

        Args:
            identifier: Alias UUID, a partial UUID (8+ hex digits) or the alias name.
                A bare name cycles routing through the name's rows.
            target: Narrow a name to rows whose target path contains this.
            routing_key: Narrow a name to rows whose routing key contains this.
            on: False turns the selected row off without promoting another.
        """
        response = yield from self._call(
            "POST",
            f"/aliases/{identifier}/switch",
            params={"on": on, "target": target, "routing_key": routing_key},
            options=options,
        )
        return parse(SwitchRoutingResponse, response)

    @op
    def switch_routing(
        self, alias_id: str | UUID, *, on: bool = True, **options: Unpack[RequestOptions]
    ) -> Flow[SwitchRoutingResponse]:
        """Switch routing on or off for an alias (the seed's name for :meth:`switch`)."""
        result: SwitchRoutingResponse = yield from _AliasesOps.switch.flow(
            self, alias_id, on=on, **options
        )
        return result

    @op
    def delete(self, alias_id: str | UUID, **options: Unpack[RequestOptions]) -> Flow[Any]:
        """Delete (deactivate) an alias by id."""
        response = yield from self._call("DELETE", f"/aliases/{alias_id}", options=options)
        return parse_json(response)


class Aliases(_AliasesOps[Sync]):
    """Operations on the customer's aliases (``/v1/aliases``)."""


class AsyncAliases(_AliasesOps[Async]):
    """Async operations on the customer's aliases (``/v1/aliases``)."""

"""Service groups and the customer's own collections (``/v1/groups``).

Example::

    llm = client.groups.get("llm")              # by name
    page = llm.services()                       # active-record navigation
    resp = llm.dispatch(path="chat/completions", json={"messages": [...]})

Platform groups are read-only; collections the customer creates are editable and
dispatchable at ``g/<name>``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, Unpack, cast
from uuid import UUID

from unitysvc._core import (
    NOT_GIVEN,
    Flow,
    NotGiven,
    PageFlow,
    RequestExtras,
    RequestOptions,
    parse,
    parse_as,
)
from unitysvc._gateway import (
    DispatchBody,
    Wrappable,
    check_body,
    dispatch_flow,
    gateway_root,
    join_url,
)
from unitysvc._ops import Async, Context, M, Sync, forward, op, pager, stream_op
from unitysvc._records import NamedRecordMixin, Page, T, pick_class
from unitysvc._resource import Resource, record_id, walk_cursor
from unitysvc.exceptions import NotFoundError, invalid_argument
from unitysvc.models import (
    CursorPageServiceSummary,
    CustomerGroupDetail,
    CustomerGroupListResponse,
    CustomerGroupView,
    ServiceCollectionMemberPublic,
    ServiceCollectionPublic,
)

if TYPE_CHECKING:
    import httpx

    from unitysvc.services import _ServiceRecord

__all__ = [
    "AsyncGroup",
    "AsyncGroups",
    "Group",
    "GroupListPage",
    "Groups",
    "ServiceListPage",
]

_GroupModel = CustomerGroupView | CustomerGroupDetail | ServiceCollectionPublic


class GroupListPage(Page[T]):
    """Groups visible to the customer (``data`` of :class:`Group`, ``count``)."""


class ServiceListPage(Page[T]):
    """One page of a group's services (``data``, ``next_cursor``, ``has_more``)."""


class _GroupsOps(Resource[M], Generic[M]):
    def _wrap(self, record: _GroupModel) -> _GroupRecord[M]:
        cls = pick_class(self._ctx, Group, AsyncGroup)
        result: _GroupRecord[M] = cls(self._ctx, record)
        return result

    @op
    def list(
        self, *, owner: str = "all", name: str | None = None, **options: Unpack[RequestOptions]
    ) -> Flow[GroupListPage[_GroupRecord[M]]]:
        """List service groups and collections visible to the customer.

        Args:
            owner: ``"all"`` (platform groups and own collections), ``"system"``
                (platform only) or ``"own"`` (own collections only).
            name: Client-side substring filter on the group name.

        Returns:
            A page of :class:`Group` records; ``count`` matches the filtered rows.
        """
        if owner not in {"all", "system", "own"}:
            raise invalid_argument("owner", owner, "must be 'all', 'system' or 'own'")
        response = yield from self._call(
            "GET", "/groups", params={"owner": owner}, anonymous=owner != "own", options=options
        )
        rows = parse(CustomerGroupListResponse, response).data
        if name:
            rows = [row for row in rows if name.lower() in row.name.lower()]
        return GroupListPage([self._wrap(row) for row in rows], count=len(rows))

    @op
    def get(self, name: str, **options: Unpack[RequestOptions]) -> Flow[_GroupRecord[M]]:
        """Get a single group by its slug name (or a collection by UUID)."""
        response = yield from self._call("GET", f"/groups/{name}", anonymous=True, options=options)
        return self._wrap(parse(CustomerGroupDetail, response))

    @op
    def create(
        self,
        *,
        name: str,
        display_name: str | None = None,
        description: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[_GroupRecord[M]]:
        """Create a customer-owned collection, dispatchable at ``g/<name>``.

        Raises:
            ConflictError: A collection of that name exists.
        """
        body: dict[str, object] = {"name": name}
        if display_name is not None:
            body["display_name"] = display_name
        if description is not None:
            body["description"] = description
        response = yield from self._call(
            "POST", "/groups", json=body, creates=True, options=options
        )
        return self._wrap(parse(CustomerGroupView, response))

    @op
    def update(
        self,
        group_id: str | UUID,
        *,
        display_name: str | None | NotGiven = NOT_GIVEN,
        description: str | None | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Flow[_GroupRecord[M]]:
        """Update a collection's metadata; only the fields passed are changed.

        Args:
            group_id: Collection UUID (or the collection record).
            display_name: New display name; None clears it.
            description: New description; None clears it.
            enabled: Enable or disable dispatch through ``g/<name>``.
        """
        body: dict[str, object] = {
            key: value
            for key, value in (
                ("display_name", display_name),
                ("description", description),
                ("enabled", enabled),
            )
            if not isinstance(value, NotGiven)
        }
        response = yield from self._call(
            "PATCH", f"/groups/{record_id(group_id)}", json=body, options=options
        )
        return self._wrap(parse(ServiceCollectionPublic, response))

    @op
    def delete(self, group_id: str | UUID, **options: Unpack[RequestOptions]) -> Flow[None]:
        """Delete a customer-owned collection."""
        yield from self._call("DELETE", f"/groups/{record_id(group_id)}", options=options)

    @op
    def add_member(
        self,
        group_id: str | UUID,
        *,
        service_id: str | UUID,
        routing_key: Mapping[str, object] | None = None,
        sort_order: int = 0,
        **options: Unpack[RequestOptions],
    ) -> Flow[ServiceCollectionMemberPublic]:
        """Add a service to a collection.

        Args:
            group_id: Collection UUID.
            service_id: Service UUID.
            routing_key: Routing key exposing the member, e.g. ``{"model": "fast"}``.
            sort_order: Position among the members.
        """
        body: dict[str, object] = {"service_id": record_id(service_id), "sort_order": sort_order}
        if routing_key is not None:
            body["routing_key"] = routing_key
        response = yield from self._call(
            "POST",
            f"/groups/{record_id(group_id)}/members",
            json=body,
            creates=True,
            options=options,
        )
        return parse(ServiceCollectionMemberPublic, response)

    @op
    def members(
        self, group_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[builtins.list[ServiceCollectionMemberPublic]]:
        """List the member services of a collection."""
        response = yield from self._call(
            "GET", f"/groups/{record_id(group_id)}/members", options=options
        )
        result: builtins.list[ServiceCollectionMemberPublic] = parse_as(
            builtins.list[ServiceCollectionMemberPublic], response
        )
        return result

    @op
    def remove_member(
        self, group_id: str | UUID, service_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[None]:
        """Remove a service from a collection."""
        member = f"/groups/{record_id(group_id)}/members/{record_id(service_id)}"
        yield from self._call("DELETE", member, options=options)

    @op
    def services(
        self,
        name: str,
        *,
        cursor: str | None = None,
        limit: int = 50,
        search: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[ServiceListPage[_ServiceRecord[M]]]:
        """List the services of a group, newest first (cursor-paginated).

        Pass the page's ``next_cursor`` back as ``cursor=`` for the next page, or use
        :meth:`iter_services` to walk them all.
        """
        from unitysvc.services import AsyncService, Service

        response = yield from self._call(
            "GET",
            f"/groups/{name}/services",
            params={"cursor": cursor, "limit": limit, "search": search},
            anonymous=True,
            options=options,
        )
        page = parse(CursorPageServiceSummary, response)
        cls = pick_class(self._ctx, Service, AsyncService)
        return ServiceListPage(
            [cls(self._ctx, row) for row in page.data],
            count=len(page.data),
            next_cursor=page.next_cursor,
            has_more=bool(page.has_more),
        )

    @pager
    def iter_services(
        self,
        name: str,
        *,
        search: str | None = None,
        page_size: int = 50,
        **options: Unpack[RequestOptions],
    ) -> PageFlow[_ServiceRecord[M]]:
        """Iterate over every service of a group, page by page."""
        yield from walk_cursor(
            lambda cursor: _GroupsOps.services.flow(
                self, name, cursor=cursor, limit=page_size, search=search, **options
            ),
            lambda page: page.data,
            lambda page: page.next_cursor if page.has_more or page.next_cursor else None,
        )

    def _interface_url(self, name: str, path: str, options: RequestExtras) -> Flow[str]:
        try:
            group = yield from _GroupsOps.get.flow(self, name, **options)
        except NotFoundError:
            # ``GET /groups/{name}`` finds the customer's own collections by UUID
            # only; by name they are reachable at the gateway's ``g/<name>``.
            if self._ctx.core.config.api_key is None:
                raise
            own = yield from _GroupsOps.list.flow(self, owner="own", **options)
            if not any(row.name == name for row in own):
                raise
            return join_url(gateway_root(self._ctx), join_url(f"g/{name}", path))
        interface = getattr(group.record, "interface", None)
        if interface is None:
            raise invalid_argument(
                "name",
                name,
                "this group has no group-level interface",
                "dispatch to one of its member services instead (group.services())",
            )
        if not interface.base_url:
            raise invalid_argument("name", name, "this group's interface has no base_url")
        return join_url(interface.base_url, path)

    def _dispatch(
        self,
        stream: bool,
        name: str,
        *,
        path: str = "",
        method: str = "POST",
        json: object = None,
        data: DispatchBody = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **options: Unpack[RequestExtras],
    ) -> Flow[httpx.Response]:
        """Send a request through the group's gateway interface.

        The group's routing policy picks a member service (weighted,
        content-dependent or price-based).

        Args:
            name: Group slug.
            path: Sub-path appended to the interface base URL (e.g.
                ``chat/completions``).
            method: HTTP method. Defaults to POST.
            json: JSON body (exclusive with ``data``).
            data: Raw body.
            headers: Extra headers.
            timeout: Per-request timeout in seconds.
            **options: ``extra_headers``, ``extra_query``, ``idempotency_key``.

        Returns:
            The raw ``httpx.Response``; upstream errors are returned, not raised.

        Raises:
            ValidationError: The group has no group-level interface.
        """
        check_body(json, data)  # before the interface lookup's round trip
        url = yield from self._interface_url(name, path, options)
        return (
            yield from dispatch_flow(
                self._ctx,
                url,
                stream=stream,
                method=method,
                json=json,
                data=data,
                headers=headers,
                timeout=timeout,
                options=options,
            )
        )

    dispatch = op.unstreamed(_dispatch)
    stream = stream_op(
        _dispatch,
        """Open a streaming request through the group-level interface.

        Same arguments as :meth:`dispatch`; the body is consumed lazily::

            with client.groups.stream("llm", path="chat/completions",
                                      json={..., "stream": True}) as r:
                for event in r.iter_events():
                    handle(event.parsed)
        """,
    )


class Groups(_GroupsOps[Sync]):
    """Operations on service groups and collections (``/v1/groups``)."""


class AsyncGroups(_GroupsOps[Async]):
    """Async operations on service groups and collections (``/v1/groups``)."""


class _GroupRecord(NamedRecordMixin[Any], Wrappable[M], Generic[M]):
    """A group with its operations pre-bound (active record)."""

    def __init__(self, client: Context, record: _GroupModel) -> None:
        super().__init__(client)
        self._record = record
        self._manager: _GroupsOps[M] = _GroupsOps(client)

    @property
    def path(self) -> str:
        """Gateway path of this group: ``g/<name>``."""
        return f"g/{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    @op
    def refresh(self, **options: Unpack[RequestOptions]) -> Flow[_GroupRecord[M]]:
        """Fetch the group again (full detail, incl. interface and routing policy)."""
        key = str(self.id) if getattr(self._record, "editable", False) else self.name
        record = yield from _GroupsOps.get.flow(self._manager, key)
        return cast("_GroupRecord[M]", record)

    # Navigation and dispatch go by name (``g/<name>``); collection edits by id.
    services = forward(_GroupsOps[M].services, "name")
    iter_services = forward(_GroupsOps[M].iter_services, "name")
    dispatch = forward(_GroupsOps[M].dispatch, "name")
    stream = forward(_GroupsOps[M].stream, "name")
    update = forward(_GroupsOps[M].update, "id")
    delete = forward(_GroupsOps[M].delete, "id")
    add_member = forward(_GroupsOps[M].add_member, "id")
    members = forward(_GroupsOps[M].members, "id")
    remove_member = forward(_GroupsOps[M].remove_member, "id")


if TYPE_CHECKING:
    # To a type checker the public names are exactly what the operations return,
    # so ``svc: Group = client.groups.get(...)`` type-checks in user code.
    Group: TypeAlias = _GroupRecord[Sync]
    AsyncGroup: TypeAlias = _GroupRecord[Async]
else:

    class Group(_GroupRecord[Sync]):
        """A service group or collection (active record)."""

    class AsyncGroup(_GroupRecord[Async]):
        """Async flavour of :class:`Group`."""

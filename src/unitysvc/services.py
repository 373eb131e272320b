"""Services: catalog entries, their interfaces, and dispatching to them.

Example::

    svc = client.services.get(service_id)
    ifaces = svc.interfaces()                   # active-record navigation
    resp = svc.dispatch(path="chat/completions", json={"messages": [...]})
    cheap = svc.cached(ttl="1h").dispatch(json=body)

The same operations exist on the manager (``client.services.dispatch(service_id, …)``);
:class:`Service` just pre-binds the id.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, Unpack, cast
from uuid import UUID

from unitysvc._core import Flow, RequestExtras, RequestOptions, parse, parse_as
from unitysvc._gateway import DispatchBody, Wrappable, check_body, dispatch_flow, join_url
from unitysvc._ops import Async, Context, M, Sync, forward, op, stream_op
from unitysvc._records import NamedRecordMixin, pick_class
from unitysvc._resource import Resource, record_id
from unitysvc.exceptions import OMIT, invalid_argument
from unitysvc.models import (
    AccessInterface,
    RecurrentRequestPublic,
    ServiceDetail,
    ServiceDocumentsResponse,
    ServiceSummary,
)

if TYPE_CHECKING:
    import httpx

    from unitysvc.enrollments import _EnrollmentRecord

__all__ = ["AsyncService", "AsyncServices", "Service", "Services", "pick_interface"]


def pick_interface(
    interfaces: builtins.list[AccessInterface],
    *,
    interface: str | AccessInterface | UUID | None = None,
    enrollment: object = None,
) -> AccessInterface:
    """Choose the interface a service call goes through (pure).

    Rules, in order: an explicit ``interface`` (by name); an ``enrollment`` hint (the
    interface bound to it; ignored when there is exactly one interface); a single
    enrollment-bound interface (BYOK/BYOE beats shared); the first shared interface.

    Args:
        interfaces: What ``GET /services/{id}/interfaces`` returned, in server order.
        interface: Interface name (or an ``AccessInterface``).
        enrollment: Enrollment id (or an object with ``.id``).

    Returns:
        The chosen interface.

    Raises:
        ValidationError: No interfaces; no match; or an ambiguous choice — the message
            names the available choices.
    """
    if not interfaces:
        raise invalid_argument(
            "service_id",
            OMIT,
            "this service has no interface you can dispatch to",
            "it may need an enrollment first: svc.enroll(...)",
        )
    names = ", ".join(repr(i.name) for i in interfaces)
    if interface is not None:
        wanted = interface.name if isinstance(interface, AccessInterface) else str(interface)
        for candidate in interfaces:
            if candidate.name == wanted:
                return candidate
        raise invalid_argument(
            "interface", wanted, "no interface of that name", f"available: {names}"
        )
    bound = [i for i in interfaces if i.enrollment_id is not None]
    if enrollment is not None:
        if len(interfaces) == 1:
            return interfaces[0]
        wanted_id = record_id(enrollment)
        matches = [i for i in bound if str(i.enrollment_id) == wanted_id]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise invalid_argument(
                "enrollment", wanted_id, "no interface is bound to it", f"available: {names}"
            )
        raise invalid_argument(
            "interface",
            None,
            f"enrollment {wanted_id} has several interfaces",
            "pass interface= one of: " + ", ".join(repr(i.name) for i in matches),
        )
    if len(bound) == 1:
        return bound[0]
    if len(bound) > 1:
        choices = ", ".join(f"{i.name!r} (enrollment {i.enrollment_id})" for i in bound)
        raise invalid_argument(
            "enrollment",
            None,
            "several enrollments can serve this call",
            f"pass enrollment= or interface=: {choices}",
        )
    return interfaces[0]


class _ServicesOps(Resource[M], Generic[M]):
    def _wrap(self, record: ServiceDetail | ServiceSummary) -> _ServiceRecord[M]:
        cls = pick_class(self._ctx, Service, AsyncService)
        result: _ServiceRecord[M] = cls(self._ctx, record)
        return result

    @op
    def get(
        self, service_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[_ServiceRecord[M]]:
        """Get a single service by UUID (or a unique UUID prefix).

        Raises:
            NotFoundError: Unknown, inactive or non-public service, or an ambiguous
                prefix.
        """
        path = f"/services/{record_id(service_id)}"
        response = yield from self._call("GET", path, anonymous=True, options=options)
        return self._wrap(parse(ServiceDetail, response))

    @op
    def interfaces(
        self, service_id: str | UUID, **options: Unpack[RequestOptions]
    ) -> Flow[builtins.list[AccessInterface]]:
        """List access interfaces dispatchable by this customer.

        Shared interfaces plus the caller's enrollment-bound ones (BYOK/BYOE); each
        entry's ``enrollment_id`` is None for shared interfaces.
        """
        response = yield from self._call(
            "GET", f"/services/{record_id(service_id)}/interfaces", anonymous=True, options=options
        )
        result: builtins.list[AccessInterface] = parse_as(builtins.list[AccessInterface], response)
        return result

    @op
    def documents(
        self,
        service_id: str | UUID,
        *,
        category: str | None = None,
        mime_type: str | None = None,
        include_content: bool = False,
        interface: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[ServiceDocumentsResponse]:
        """List a service's public documents (guides, code examples, API references).

        Args:
            service_id: Service UUID.
            category: Only this category (e.g. ``code_example``).
            mime_type: Only this type (``python``, ``bash``, ``markdown``, ...).
            include_content: Return each document's content; code examples come
                rendered against an interface (its base URL filled in).
            interface: Render against this interface (default: the service's first).

        Returns:
            The documents, and which interface they were rendered against.
        """
        response = yield from self._call(
            "GET",
            f"/services/{record_id(service_id)}/documents",
            params={
                "category": category,
                "mime_type": mime_type,
                "include_content": include_content,
                "interface": interface,
            },
            anonymous=True,
            options=options,
        )
        return parse(ServiceDocumentsResponse, response)

    def _target(
        self,
        service_id: str | UUID,
        interface: str | UUID | None,
        enrollment: str | UUID | None,
        options: RequestExtras,
    ) -> Flow[AccessInterface]:
        available = yield from _ServicesOps.interfaces.flow(self, service_id, **options)
        chosen = pick_interface(available, interface=interface, enrollment=enrollment)
        if not chosen.base_url:
            raise invalid_argument(
                "interface", chosen.name, "this interface has no base_url to dispatch to"
            )
        return chosen

    def _dispatch(
        self,
        stream: bool,
        service_id: str | UUID,
        *,
        interface: str | UUID | None = None,
        enrollment: str | UUID | None = None,
        path: str = "",
        method: str = "POST",
        json: object = None,
        data: DispatchBody = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **options: Unpack[RequestExtras],
    ) -> Flow[httpx.Response]:
        """Send an HTTP request to the service through its gateway interface.

        Args:
            service_id: Service UUID.
            interface: Interface name; needed when several interfaces could serve.
            enrollment: Pick the interface bound to this enrollment.
            path: Sub-path appended to the interface base URL.
            method: HTTP method. Defaults to POST.
            json: JSON body (exclusive with ``data``).
            data: Raw body.
            headers: Extra headers merged on top of the auth header.
            timeout: Per-request timeout in seconds.
            **options: ``extra_headers``, ``extra_query``, ``idempotency_key``.

        Returns:
            The raw ``httpx.Response``; upstream 4xx/5xx are returned, not raised.

        Raises:
            ValidationError: No usable interface, an ambiguous choice, or both json and
                data (the message names the choices).
        """
        check_body(json, data)  # before the interface lookup's round trip
        chosen = yield from self._target(service_id, interface, enrollment, options)
        return (
            yield from dispatch_flow(
                self._ctx,
                join_url(str(chosen.base_url), path),
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
        """Open a streaming request through the resolved service interface.

        Same arguments and interface resolution as :meth:`dispatch`; the body is
        consumed lazily::

            with client.services.stream(svc_id, json={..., "stream": True}) as r:
                for event in r.iter_events():
                    if event.kind == "done":
                        break
                    handle(event.parsed)
        """,
    )

    @op
    def schedule(
        self,
        service_id: str | UUID,
        *,
        recurrence: Mapping[str, object],
        interface: str | UUID | None = None,
        enrollment: str | UUID | None = None,
        path: str = "",
        method: str = "POST",
        json: object = None,
        headers: dict[str, str] | None = None,
        name: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[RecurrentRequestPublic]:
        """Schedule a recurring dispatch.

        Creates a recurrent request for the resolved interface's gateway URL, then
        attaches the schedule, which activates it.

        Args:
            service_id: Service UUID.
            recurrence: ``{"schedule_type": "interval", "interval_seconds": 300}`` or
                ``{"schedule_type": "cron", "cron_expression": "*/5 * * * *",
                "timezone": "UTC"}``.
            interface: As for :meth:`dispatch`.
            enrollment: As for :meth:`dispatch`.
            path: As for :meth:`dispatch`.
            method: As for :meth:`dispatch`.
            json: Body template sent on each run.
            headers: Request headers sent on each run.
            name: Optional human label.

        Returns:
            The active recurrent request.
        """
        if not isinstance(recurrence, Mapping) or "schedule_type" not in recurrence:
            raise invalid_argument(
                "recurrence",
                recurrence,
                "a dict with schedule_type 'interval' (interval_seconds) or 'cron' "
                "(cron_expression, timezone)",
                "e.g. {'schedule_type': 'interval', 'interval_seconds': 300}",
            )
        chosen = yield from self._target(service_id, interface, enrollment, options)
        body: dict[str, object] = {
            "request_path": join_url(str(chosen.base_url), path),
            "http_method": method.upper(),
            "service_id": record_id(service_id),
        }
        if enrollment is not None:
            body["enrollment_id"] = record_id(enrollment)
        if isinstance(json, dict):
            body["body_template"] = json
        if headers:
            body["request_headers"] = headers
        if name is not None:
            body["name"] = name
        created = yield from self._call(
            "POST", "/recurrent-requests/", json=body, creates=True, options=options
        )
        draft = parse(RecurrentRequestPublic, created)
        response = yield from self._call(
            "PATCH",
            f"/recurrent-requests/{draft.id}",
            json={"schedule": dict(recurrence)},
            options=options,
        )
        return parse(RecurrentRequestPublic, response)


class Services(_ServicesOps[Sync]):
    """Operations on customer-visible services (``/v1/services``)."""


class AsyncServices(_ServicesOps[Async]):
    """Async operations on customer-visible services (``/v1/services``)."""


class _ServiceRecord(NamedRecordMixin[Any], Wrappable[M], Generic[M]):
    """A service with its operations pre-bound (active record)."""

    def __init__(self, client: Context, record: ServiceDetail | ServiceSummary) -> None:
        super().__init__(client)
        self._record = record
        self._manager: _ServicesOps[M] = _ServicesOps(client)

    @property
    def path(self) -> str:
        """Gateway path of this service: ``p/<service-id>``."""
        return f"p/{self.id}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={str(self.id)!r}, name={self.name!r})"

    refresh = forward(_ServicesOps[M].get, "id")
    interfaces = forward(_ServicesOps[M].interfaces, "id")
    documents = forward(_ServicesOps[M].documents, "id")
    dispatch = forward(_ServicesOps[M].dispatch, "id")
    stream = forward(_ServicesOps[M].stream, "id")
    schedule = forward(_ServicesOps[M].schedule, "id")

    @op
    def enroll(
        self, *, parameters: Mapping[str, object] | None = None, **options: Unpack[RequestOptions]
    ) -> Flow[_EnrollmentRecord[M]]:
        """Enroll in this service; see :meth:`Enrollments.create`."""
        from unitysvc.enrollments import _EnrollmentsOps

        manager: _EnrollmentsOps[M] = _EnrollmentsOps(self._ctx)
        record = yield from _EnrollmentsOps.create.flow(
            manager, service_id=self.id, parameters=parameters, **options
        )
        return cast("_EnrollmentRecord[M]", record)


if TYPE_CHECKING:
    # To a type checker the public names are exactly what the operations return,
    # so ``svc: Service = client.services.get(...)`` type-checks in user code.
    Service: TypeAlias = _ServiceRecord[Sync]
    AsyncService: TypeAlias = _ServiceRecord[Async]
else:

    class Service(_ServiceRecord[Sync]):
        """A customer-visible service (active record over ``ServiceDetail``)."""

    class AsyncService(_ServiceRecord[Async]):
        """Async flavour of :class:`Service`."""

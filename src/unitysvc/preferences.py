"""Preferences: named settings of the account the key acts for (``/v1/preferences``).

Every call answers with the preference as the account sees it: its own ``value``,
the ``effective`` value that applies and where that comes from (``source``).

Today's preferences:

* ``notification`` — where notices are forwarded: a service path (a listed
  service's name, ``p/<service-id>``, ``g/<group>``), or a ``b/<broadcast>`` /
  ``e/<CODE>`` of yours.
* ``ai`` — the AI behind ``/ai``: a service name (one callable without an
  enrollment) or an ``a/<alias>`` of yours.
* ``request-log`` — the request-logging mode, ``truncated`` or ``complete``;
  cleared, logging is off.

Example::

    client.preferences.set_request_log_mode("complete")
    pref = client.preferences.get("request-log")
    print(pref.effective, pref.source)         # complete account
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Generic, Literal, TypeAlias, Unpack, get_args

from unitysvc._core import Flow, RequestOptions, parse
from unitysvc._ops import Async, M, Sync, op
from unitysvc._resource import Resource
from unitysvc.exceptions import invalid_argument
from unitysvc.models import PreferencePublic, PreferencesPublic

__all__ = [
    "AI",
    "GATEWAYS",
    "NOTIFICATION",
    "REQUEST_LOG",
    "REQUEST_LOG_MODES",
    "AsyncPreferences",
    "Preferences",
    "PreferenceInput",
    "RequestLogMode",
    "check_request_log_mode",
]

NOTIFICATION = "notification"
AI = "ai"
REQUEST_LOG = "request-log"

RequestLogMode: TypeAlias = Literal["truncated", "complete"]
#: The request-log modes: 8 KB body previews, or whole bodies.
REQUEST_LOG_MODES: tuple[RequestLogMode, ...] = get_args(RequestLogMode)
#: The gateways a service destination can name (``client.api_base_url`` and its kin).
GATEWAYS = ("api", "s3", "smtp")

#: What ``set`` takes: a service or mode string, ``{"service": ..., "gateway": ...}``,
#: or None to clear.
PreferenceInput: TypeAlias = str | Mapping[str, object] | None

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid_argument(
            "name",
            name,
            "a preference name is lower-case letters, digits and '-'",
            f"one of {NOTIFICATION!r}, {AI!r}, {REQUEST_LOG!r}",
        )
    return name


def check_request_log_mode(mode: object) -> RequestLogMode:
    """Validate a request-log mode locally.

    Raises:
        ValidationError: ``mode`` is not ``"truncated"`` or ``"complete"``.
    """
    for allowed in REQUEST_LOG_MODES:
        if mode == allowed:
            return allowed
    raise invalid_argument(
        "mode",
        mode,
        "the request-log mode is 'truncated' (8 KB previews) or 'complete' (whole bodies)",
        "None turns logging off",
    )


def _service_value(field: str, service: object, gateway: object) -> str | dict[str, object]:
    """A service destination as sent: the string, or ``{service, gateway}``."""
    if not isinstance(service, str) or not service.strip().strip("/"):
        raise invalid_argument(
            field,
            service,
            "a service destination is a non-empty string",
            "e.g. 'demo-small', 'g/llm' or 'a/<alias>'; None clears it",
        )
    if gateway is None:
        return service
    if gateway not in GATEWAYS:
        raise invalid_argument(
            "gateway", gateway, f"must be one of {', '.join(map(repr, GATEWAYS))}", "or None"
        )
    return {"service": service, "gateway": gateway}


def _wire_value(name: str, value: object) -> str | dict[str, object]:
    """The ``value`` of a ``PUT`` body, checked as far as the SDK can."""
    if name == REQUEST_LOG:
        return check_request_log_mode(value)
    if isinstance(value, Mapping):
        if set(value) - {"service", "gateway"}:
            unknown = ", ".join(sorted(map(str, set(value) - {"service", "gateway"})))
            raise invalid_argument(
                "value", value, f"unknown key(s) {unknown}", "a dict has 'service' and 'gateway'"
            )
        return _service_value("value", value.get("service"), value.get("gateway"))
    if isinstance(value, str):
        return _service_value("value", value, None)
    raise invalid_argument(
        "value",
        value,
        "a preference value is a string, a {'service': ..., 'gateway': ...} dict, or None",
    )


class _PreferencesOps(Resource[M], Generic[M]):
    def _put(
        self, name: str, value: str | dict[str, object], options: RequestOptions
    ) -> Flow[PreferencePublic]:
        response = yield from self._call(
            "PUT", f"/preferences/{name}", json={"value": value}, options=options
        )
        return parse(PreferencePublic, response)

    def _delete(self, name: str, options: RequestOptions) -> Flow[PreferencePublic]:
        response = yield from self._call("DELETE", f"/preferences/{name}", options=options)
        return parse(PreferencePublic, response)

    @op
    def list(self, **options: Unpack[RequestOptions]) -> Flow[PreferencesPublic]:
        """Every preference, as the current account sees it (set or not)."""
        response = yield from self._call("GET", "/preferences/", options=options)
        return parse(PreferencesPublic, response)

    @op
    def get(self, name: str, **options: Unpack[RequestOptions]) -> Flow[PreferencePublic]:
        """One preference, as the current account sees it.

        Raises:
            NotFoundError: No preference of that name (the message lists them).
        """
        response = yield from self._call(
            "GET", f"/preferences/{_check_name(name)}", options=options
        )
        return parse(PreferencePublic, response)

    @op
    def set(
        self, name: str, value: PreferenceInput, **options: Unpack[RequestOptions]
    ) -> Flow[PreferencePublic]:
        """Set one preference on the current account; ``value=None`` clears it.

        Args:
            name: ``notification``, ``ai`` or ``request-log``.
            value: A service (``"demo-small"``, ``"g/llm"``, ``"a/<alias>"`` or
                ``{"service": ..., "gateway": ...}``) for ``notification`` / ``ai``;
                ``"truncated"`` or ``"complete"`` for ``request-log``; None clears.

        Returns:
            The preference after the change.

        Raises:
            ValidationError: A value the SDK can tell is wrong (a request-log mode
                other than the two, an empty service), or one the platform refuses
                (a service that is not listed, an alias you do not have); the
                message names what is allowed.
            NotFoundError: No preference of that name.
        """
        checked = _check_name(name)
        if value is None:
            return (yield from self._delete(checked, options))
        return (yield from self._put(checked, _wire_value(checked, value), options))

    @op
    def clear(self, name: str, **options: Unpack[RequestOptions]) -> Flow[PreferencePublic]:
        """Clear one preference back to its fallback (idempotent).

        Clearing ``request-log`` turns request logging off.
        """
        return (yield from self._delete(_check_name(name), options))

    @op
    def set_request_log_mode(
        self, mode: RequestLogMode | None, **options: Unpack[RequestOptions]
    ) -> Flow[PreferencePublic]:
        """Turn request logging on in ``mode``, or off with ``mode=None`` (idempotent).

        Rows already stored stay readable either way; only later gateway calls are
        affected.

        Args:
            mode: ``"truncated"`` stores 8 KB previews of bodies; ``"complete"``
                stores whole request and response bodies (secrets still redacted);
                None turns logging off.

        Raises:
            ValidationError: Any other mode (the message names the two).
        """
        if mode is None:
            return (yield from self._delete(REQUEST_LOG, options))
        return (yield from self._put(REQUEST_LOG, check_request_log_mode(mode), options))

    @op
    def set_notification(
        self,
        service: str | None,
        gateway: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[PreferencePublic]:
        """Where notices are forwarded; None clears it (in-app delivery only).

        Args:
            service: A service path (a listed service's name, ``p/<id>``,
                ``g/<group>``) or a ``b/<broadcast>`` / ``e/<CODE>`` of yours.
            gateway: The gateway the destination is reached through (``api``,
                ``s3``, ``smtp``); None lets the platform resolve it.

        Raises:
            ValidationError: An empty service, an unknown gateway, or a destination
                the platform refuses (the message says what is allowed).
        """
        if service is None:
            return (yield from self._delete(NOTIFICATION, options))
        return (
            yield from self._put(NOTIFICATION, _service_value("service", service, gateway), options)
        )

    @op
    def set_ai(
        self,
        service: str | None,
        gateway: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[PreferencePublic]:
        """The AI that ``/ai`` uses; None clears it (the platform default applies).

        Args:
            service: A service name (e.g. ``"demo-small"``), one callable without an
                enrollment, or an ``"a/<alias>"`` of yours.
            gateway: The gateway it is called through (``api``, ``s3``, ``smtp``);
                None lets the platform decide.

        Raises:
            ValidationError: An empty service, an unknown gateway, or a service the
                platform refuses (not listed, or needing an enrollment).
        """
        if service is None:
            return (yield from self._delete(AI, options))
        return (yield from self._put(AI, _service_value("service", service, gateway), options))


class Preferences(_PreferencesOps[Sync]):
    """Operations on the current account's preferences (``/v1/preferences``)."""


class AsyncPreferences(_PreferencesOps[Async]):
    """Async operations on the current account's preferences (``/v1/preferences``)."""

"""Rendering of upstream channel configuration.

A channel's strings are rendered in two passes (CONTRACT.md §3.4):

1. Jinja2 in a sandbox with ``StrictUndefined``: ``{{ params.X }}`` (enrollment
   parameters), ``{{ enrollment.code }}`` / ``.id`` / ``.customer_id`` /
   ``.parameters``, ``{{ service_name }}``, ``{{ routing_vars.X }}``;
2. secret references: ``${ customer_secrets.NAME }``, ``${ secrets.NAME }`` and
   the optional form ``${ ns.NAME ?? default }``, resolved by an async lookup.

Jinja runs first so a BYOE channel can pick the secret by parameter
(``${ customer_secrets.{{ params.api_key_secret }} }``). Because of that order,
values that reach templates (parameters, routing vars) must not contain
``${``: otherwise a customer's parameter could smuggle in a reference to a
seller secret. They are refused with :class:`RenderError`.

A ``raw`` mapping inside a channel is not Jinja-expanded (secret references
in it are still resolved) and is merged over the rendered channel.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from unitysvc_server.catalog.model import UpstreamChannel, thaw

#: Namespaces of secret references.
CUSTOMER_SECRETS = "customer_secrets"
SELLER_SECRETS = "secrets"

_SECRET_REF = re.compile(
    r"\$\{\s*(?P<ns>[A-Za-z_][A-Za-z0-9_]*)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:\?\?\s*(?P<default>\"[^\"]*\"|'[^']*'|[^}]*?))?\s*\}"
)

SecretLookup = Callable[[str, str], Awaitable[str | None]]
"""``async (namespace, name) -> value | None``: resolves one secret reference."""


class RenderError(ValueError):
    """A channel template cannot be rendered; the message names the field."""


class MissingSecret(RenderError):
    """A referenced secret without a default is not set.

    Attributes:
        name: The secret name (e.g. ``DEMO_API_KEY``).
        namespace: ``customer_secrets`` (the caller must set it) or ``secrets``
            (the seller/operator must).
    """

    def __init__(self, name: str, namespace: str = CUSTOMER_SECRETS) -> None:
        self.name = name
        self.namespace = namespace
        if namespace == CUSTOMER_SECRETS:
            message = f"the customer secret {name} is not set; set it with PUT /v1/secrets/{name}"
        else:
            message = f"the platform secret {name} is not configured on this server"
        super().__init__(message)


@dataclass(frozen=True)
class RenderContext:
    """Variables available to channel templates.

    Attributes:
        service_name: The listing name.
        params: Enrollment parameters (``params.*``).
        enrollment: ``{"code", "id", "customer_id", "parameters"}`` or None.
        routing_vars: Listing ``service_options.routing_vars``.
    """

    service_name: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    enrollment: Mapping[str, Any] | None = None
    routing_vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def variables(self) -> dict[str, Any]:
        """The template namespace.

        Raises:
            RenderError: A value contains ``${`` (reference smuggling).
        """
        values = {
            "service_name": self.service_name,
            "params": thaw(self.params),
            "enrollment": thaw(self.enrollment) if self.enrollment is not None else {},
            "routing_vars": thaw(self.routing_vars),
        }
        _refuse_references(values, "")
        return values


def _refuse_references(value: Any, where: str) -> None:
    if isinstance(value, str):
        if "${" in value:
            raise RenderError(f"{where or 'value'}: must not contain '${{'")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_references(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_references(item, f"{where}[{index}]")


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    return _ENV.from_string(source)


def render_template(text: str, variables: Mapping[str, Any], *, where: str = "value") -> str:
    """Render one Jinja string (returned as is when it has no Jinja syntax).

    Raises:
        RenderError: Syntax error or an undefined variable; names ``where``.
    """
    if "{{" not in text and "{%" not in text:
        return text
    try:
        return str(_compiled(text).render(**variables))
    except TemplateError as exc:
        raise RenderError(f"{where}: {exc.message or type(exc).__name__}") from None


def secret_references(text: str) -> list[tuple[str, str, bool]]:
    """The ``(namespace, name, has_default)`` references in ``text``, in order."""
    return [
        (m.group("ns"), m.group("name"), m.group("default") is not None)
        for m in _SECRET_REF.finditer(text)
    ]


def _default_value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


async def resolve_references(text: str, lookup: SecretLookup) -> str:
    """Replace every ``${ ns.NAME [?? default] }`` in ``text`` by its value.

    ``${API_GATEWAY_BASE_URL}``-style placeholders (no namespace) are left alone.

    Raises:
        MissingSecret: A reference without default whose secret is not set.
    """
    if "${" not in text:
        return text
    parts: list[str] = []
    last = 0
    for match in _SECRET_REF.finditer(text):
        namespace, name, default = match.group("ns"), match.group("name"), match.group("default")
        value = await lookup(namespace, name)
        if value is None:
            if default is None:
                raise MissingSecret(name, namespace)
            value = _default_value(default)
        parts.append(text[last : match.start()])
        parts.append(value)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


async def _render_value(
    value: Any, variables: Mapping[str, Any], lookup: SecretLookup, where: str, jinja: bool
) -> Any:
    if isinstance(value, str):
        text = render_template(value, variables, where=where) if jinja else value
        return await resolve_references(text, lookup)
    if isinstance(value, Mapping):
        return {
            str(k): await _render_value(v, variables, lookup, f"{where}.{k}", jinja)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            await _render_value(v, variables, lookup, f"{where}[{i}]", jinja)
            for i, v in enumerate(value)
        ]
    return value


async def render_channel(
    channel: UpstreamChannel, context: RenderContext, lookup: SecretLookup
) -> dict[str, Any]:
    """The channel's configuration with templates rendered and secrets resolved.

    Args:
        channel: The channel to render.
        context: Template variables.
        lookup: Resolves ``(namespace, name)`` to a secret value or None.

    Returns:
        A plain dict (``base_url``, ``api_key``, ``routing_key``, transformers...);
        ``raw`` is merged in and removed.

    Raises:
        RenderError: A template fails (the message names the field).
        MissingSecret: A required secret is not set.
    """
    variables = context.variables()
    config = thaw(channel.config)
    raw = config.pop("raw", None)
    rendered: dict[str, Any] = await _render_value(
        config, variables, lookup, f"channel {channel.name}", True
    )
    if isinstance(raw, Mapping):
        rendered.update(
            await _render_value(raw, variables, lookup, f"channel {channel.name}.raw", False)
        )
    return rendered

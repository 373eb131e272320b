"""Secrets: the customer's encrypted secret store (``/v1/secrets``).

Secrets hold upstream credentials (BYOK keys) and other values that gateway
requests reference as ``${ customer_secrets.NAME }``. Values are write-only.
"""

from __future__ import annotations

import re
from typing import Generic, Unpack

from unitysvc._constants import SECRET_NAME_PATTERN
from unitysvc._core import Flow, PageFlow, RequestOptions, parse
from unitysvc._ops import Async, M, Sync, op, pager
from unitysvc._resource import Resource, walk_offset
from unitysvc.exceptions import invalid_argument
from unitysvc.models import Message, SecretPublic, SecretsPublic

__all__ = ["SECRET_NAME_PATTERN", "AsyncSecrets", "Secrets", "check_secret_name"]


def check_secret_name(name: str) -> str:
    """Validate a secret name locally, before any request.

    Raises:
        ValidationError: The name breaks ``^[A-Z_][A-Z0-9_]*$`` or the 1..100 length
            rule (``.field == "name"``).
    """
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= 100
        or not SECRET_NAME_PATTERN.match(name)
    ):
        text = name if isinstance(name, str) else str(name)
        suggestion = re.sub(r"[^A-Z0-9_]", "_", text.upper()) or "MY_SECRET"
        if suggestion[0].isdigit():
            suggestion = "_" + suggestion
        raise invalid_argument(
            "name",
            name,
            "a secret name is 1-100 characters matching ^[A-Z_][A-Z0-9_]*$",
            f"e.g. {suggestion[:100]!r}",
        )
    return name


class _SecretsOps(Resource[M], Generic[M]):
    @op
    def list(
        self, *, skip: int = 0, limit: int = 100, **options: Unpack[RequestOptions]
    ) -> Flow[SecretsPublic]:
        """List all secrets owned by the authenticated customer.

        Args:
            skip: Rows to skip.
            limit: Page size.

        Returns:
            A ``{data, count}`` envelope of secret metadata (never values of
            sensitive secrets).
        """
        response = yield from self._call(
            "GET", "/secrets/", params={"skip": skip, "limit": limit}, options=options
        )
        return parse(SecretsPublic, response)

    @pager
    def iter(
        self, *, page_size: int = 100, **options: Unpack[RequestOptions]
    ) -> PageFlow[SecretPublic]:
        """Iterate over every secret, fetching pages of ``page_size`` as needed."""
        return (
            yield from walk_offset(
                lambda skip, limit: _SecretsOps.list.flow(self, skip=skip, limit=limit, **options),
                lambda page: page.data,
                page_size,
            )
        )

    @op
    def get(self, name: str, **options: Unpack[RequestOptions]) -> Flow[SecretPublic]:
        """Get a single secret by name (metadata only — the value is never returned).

        Raises:
            NotFoundError: No secret of that name.
        """
        response = yield from self._call(
            "GET", f"/secrets/{check_secret_name(name)}", options=options
        )
        return parse(SecretPublic, response)

    @op
    def set(
        self,
        name: str,
        value: str,
        *,
        sensitive: bool | None = None,
        description: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[SecretPublic]:
        """Set ``name`` to ``value`` (idempotent — creates or replaces).

        Maps to ``PUT /v1/secrets/{name}``. The value is encrypted server-side and
        never echoed back.

        Args:
            name: Secret name (must match ``^[A-Z_][A-Z0-9_]*$``).
            value: Secret value (0..4000 characters). May be empty.
            sensitive: False stores a readable "variable" instead of a write-only
                secret; None keeps the current kind (new secrets are sensitive).
            description: Markdown guidance; None keeps it, ``""`` clears it.

        Returns:
            The stored secret's public metadata.
        """
        body: dict[str, object] = {"value": value}
        if sensitive is not None:
            body["sensitive"] = sensitive
        if description is not None:
            body["description"] = description
        response = yield from self._call(
            "PUT", f"/secrets/{check_secret_name(name)}", json=body, options=options
        )
        return parse(SecretPublic, response)

    @op
    def delete(self, name: str, **options: Unpack[RequestOptions]) -> Flow[Message]:
        """Delete a secret by name. This action cannot be undone."""
        response = yield from self._call(
            "DELETE", f"/secrets/{check_secret_name(name)}", options=options
        )
        return parse(Message, response)


class Secrets(_SecretsOps[Sync]):
    """Operations on the customer's secret store (``/v1/secrets``)."""


class AsyncSecrets(_SecretsOps[Async]):
    """Async operations on the customer's secret store (``/v1/secrets``)."""

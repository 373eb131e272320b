"""Customer enrollments (CONTRACT §1.7 Enrollments).

Lifecycle: ``POST /enrollments/`` stores a ``pending`` row and answers 202; the
enrollment worker (:mod:`unitysvc_server.components.enrollments`) then runs
:func:`activate`, which validates the parameters against the listing's
``user_parameters_schema``, dry-renders the offering's channel templates with
them, and either activates the row (assigning its ``e/<code>`` endpoint) or
leaves it ``incomplete`` with the reason in ``status_reason``.

Re-enrolling in a service reuses the customer's ``cancelled`` or ``incomplete``
enrollment for it (same id, same code), with the new parameters if any were
sent -- so a cancelled enrollment's parameters survive to be reactivated.

For the gateway: :func:`decrypt_parameters` and :func:`render_context` (the caller's
active enrollments come from ``domain.caller_context``).
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from unitysvc._constants import SECRET_NAME_PATTERN
from unitysvc.models import (
    CustomerEnrollment,
    CustomerEnrollmentCancelResponse,
    CustomerEnrollmentCreateResponse,
    CustomerEnrollmentsResponse,
    ServiceEnrollmentCreate,
)
from unitysvc_server.catalog.model import Catalog, CatalogService, thaw
from unitysvc_server.catalog.render import (
    CUSTOMER_SECRETS,
    RenderContext,
    RenderError,
    render_template,
    secret_references,
)
from unitysvc_server.clock import utcnow
from unitysvc_server.crypto import SecretBox
from unitysvc_server.domain.errors import Conflict, Unprocessable
from unitysvc_server.domain.ownership import get_owned
from unitysvc_server.domain.pages import page_of
from unitysvc_server.storage.queries import enrollments as queries
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.enrollments import EnrollmentRow

PENDING, INCOMPLETE, ACTIVE, PAUSED, CANCELLED = (
    "pending",
    "incomplete",
    "active",
    "paused",
    "cancelled",
)
#: Statuses holding a live enrollment (a duplicate of one is refused).
LIVE = (PENDING, ACTIVE, PAUSED)
#: Crockford base32: no I, L, O, U.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 4
MASK = "***masked***"

_SECRETISH = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|apikey|private[_-]?key|"
    r"access[_-]?key|credential|auth)",
    re.IGNORECASE,
)
_SECRET_NAME = SECRET_NAME_PATTERN
_REF_START = re.compile(r"\$\{\s*(?:customer_secrets|secrets)\.")
_CROCKFORD_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})

# -- codes and masking ----------------------------------------------------------------


def normalize_code(code: str) -> str | None:
    """The canonical form of an enrollment code (Crockford rules), or None if invalid.

    Case-insensitive; ``I``/``L`` read as ``1`` and ``O`` as ``0``; hyphens ignored.
    """
    text = code.strip().upper().replace("-", "").translate(_CROCKFORD_ALIASES)
    if len(text) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in text):
        return None
    return text


def new_code() -> str:
    """A random 4-character Crockford base32 code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def mask_parameters(value: Any, key: str = "") -> Any:
    """``value`` with secret-shaped entries replaced by ``***masked***``.

    A key looks secret-shaped when its name mentions a password, secret, token,
    API/private/access key, credential or auth. A ``*_secret`` entry whose value
    is a secret *name* (``MY_KEY``) is a reference, not a value, and stays.
    """
    if isinstance(value, Mapping):
        return {str(k): mask_parameters(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_parameters(v, key) for v in value]
    if key and _SECRETISH.search(key) and value not in (None, ""):
        names_secret = key.lower().endswith("_secret") and isinstance(value, str)
        if not (names_secret and _SECRET_NAME.match(value)):
            return MASK
    return value


# -- parameters at rest ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActiveEnrollment:
    """An active enrollment as routing reads it: a value, detached from any session.

    Attributes:
        id: The enrollment.
        customer_id: Its customer.
        service_id: The service it enrolls in.
        code: Its gateway code (``e/<code>``).
        parameters_encrypted: Its parameters, still encrypted.
    """

    id: uuid.UUID
    customer_id: uuid.UUID
    service_id: uuid.UUID
    code: str | None
    parameters_encrypted: str | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: EnrollmentRow) -> ActiveEnrollment:
        """Snapshot a row."""
        return cls(row.id, row.customer_id, row.service_id, row.code, row.parameters_encrypted)


def decrypt_parameters(row: EnrollmentRow | ActiveEnrollment, crypto: SecretBox) -> dict[str, Any]:
    """The enrollment's parameters in clear (empty dict when none)."""
    if not row.parameters_encrypted:
        return {}
    value = json.loads(crypto.decrypt(row.parameters_encrypted))
    return value if isinstance(value, dict) else {}


def _encrypt_parameters(params: Mapping[str, Any] | None, crypto: SecretBox) -> str | None:
    if not params:
        return None
    return crypto.encrypt(json.dumps(dict(params), sort_keys=True, separators=(",", ":")))


def render_context(
    row: EnrollmentRow | ActiveEnrollment, service: CatalogService, crypto: SecretBox
) -> RenderContext:
    """Template variables for rendering ``service``'s channels for this enrollment."""
    params = decrypt_parameters(row, crypto)
    return RenderContext(
        service_name=service.name,
        params=params,
        enrollment={
            "code": row.code or "",
            "id": str(row.id),
            "customer_id": str(row.customer_id),
            "parameters": params,
        },
        routing_vars=service.routing_vars,
    )


# -- wire shapes --------------------------------------------------------------------------


def proxy_endpoint(row: EnrollmentRow, gateway_url: str) -> str | None:
    """The enrollment's gateway URL (``<gateway>/e/<code>``), once it has a code."""
    return f"{gateway_url.rstrip('/')}/e/{row.code}" if row.code else None


def _service_summary(service: CatalogService | None) -> dict[str, Any] | None:
    if service is None:
        return None
    return {
        "id": str(service.id),
        "name": service.name,
        "display_name": service.display_name,
        "service_type": service.service_type,
        "provider_name": service.provider_name,
    }


def to_public(
    row: EnrollmentRow,
    crypto: SecretBox,
    catalog: Catalog,
    *,
    include_service_details: bool = True,
) -> CustomerEnrollment:
    """The wire form of ``row``, parameters masked."""
    params = decrypt_parameters(row, crypto)
    extra: dict[str, Any] = {}
    if row.status_reason:
        extra["status_reason"] = row.status_reason
    return CustomerEnrollment(
        id=row.id,
        service_id=row.service_id,
        owner_id=None if row.shared else row.customer_id,
        status=row.status,
        parameters=mask_parameters(params) if params else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        service=_service_summary(catalog.service(row.service_id))
        if include_service_details
        else None,
        proxy_endpoint=proxy_endpoint(row, catalog.gateway_base_url)
        if include_service_details
        else None,
        code=row.code,
        **extra,
    )


# -- activation ------------------------------------------------------------------------------


def _schema_errors(schema: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    # Imported on the first enrollment with a parameters schema, not at every server
    # start: jsonschema (with attrs and referencing) is a twentieth of a start's CPU.
    from jsonschema import Draft202012Validator
    from jsonschema import ValidationError as SchemaError
    from jsonschema.validators import validator_for

    schema_dict = thaw(schema)
    cls = validator_for(schema_dict, default=Draft202012Validator)
    validator = cls(schema_dict)
    messages = []
    errors: list[SchemaError] = sorted(validator.iter_errors(dict(params)), key=lambda e: e.path)
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            messages.append(f"parameters: {error.message}")
        else:
            messages.append(f"parameters.{where}: {error.message}" if where else error.message)
    return messages


def check_activation(
    service: CatalogService | None, params: Mapping[str, Any], code: str, row_id: uuid.UUID
) -> str | None:
    """Why an enrollment with ``params`` cannot be active, or None if it can.

    Validates the parameters against ``user_parameters_schema`` and dry-renders
    every active channel's templates (Jinja only; secret values are resolved at
    routing time, so a secret set later does not need a re-enrollment). Secret
    references must come out as valid names.
    """
    if service is None or service.status != "active":
        return "the service is not available for enrollment"
    if service.user_parameters_schema:
        errors = _schema_errors(service.user_parameters_schema, params)
        if errors:
            return "; ".join(errors)
    elif params:
        return "this service takes no enrollment parameters"
    context = RenderContext(
        service_name=service.name,
        params=params,
        enrollment={"code": code, "id": str(row_id), "customer_id": "", "parameters": params},
        routing_vars=service.routing_vars,
    )
    try:
        variables = context.variables()
        for channel in service.channels:
            if not channel.is_active:
                continue
            for where, text in _channel_strings(channel.config, f"channel {channel.name}"):
                rendered = render_template(text, variables, where=where)
                refs = secret_references(rendered)
                if len(_REF_START.findall(rendered)) != len(refs):
                    return f"{where}: a secret reference does not name a valid secret"
                for namespace, name, _ in refs:
                    if namespace == CUSTOMER_SECRETS and not _SECRET_NAME.match(name):
                        return f"{where}: {name!r} is not a valid secret name"
    except RenderError as exc:
        return str(exc)
    return None


def _channel_strings(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, Mapping):
        if "raw" in value:
            value = {k: v for k, v in value.items() if k != "raw"}
        return [s for k, v in value.items() for s in _channel_strings(v, f"{where}.{k}")]
    if isinstance(value, list | tuple):
        return [s for i, v in enumerate(value) for s in _channel_strings(v, f"{where}[{i}]")]
    return []


async def _unique_code(session: Session) -> str:
    for _ in range(32):
        code = new_code()
        taken = await queries.id_by_code(session, code)
        if taken is None:
            return code
    raise RuntimeError("could not find a free enrollment code after 32 attempts")


async def activate(
    session: Session, row: EnrollmentRow, catalog: Catalog, crypto: SecretBox
) -> EnrollmentRow:
    """Run the activation task for a pending enrollment (no-op otherwise)."""
    if row.status != PENDING:
        return row
    params = decrypt_parameters(row, crypto)
    code = row.code or await _unique_code(session)
    reason = check_activation(catalog.service(row.service_id), params, code, row.id)
    if reason is None:
        row.status = ACTIVE
        row.status_reason = None
        row.code = code
        row.activated_at = utcnow()
    else:
        row.status = INCOMPLETE
        row.status_reason = reason
    await queries.flush(session)
    return row


# -- requests ---------------------------------------------------------------------------------


def _check_service(catalog: Catalog, service_id: uuid.UUID) -> CatalogService:
    service = catalog.service(service_id)
    if service is None or not service.is_listed:
        raise Unprocessable(
            ("body", "service_id"),
            f"no active service {service_id}; pick one from GET /v1/groups/all_services/services",
        )
    return service


async def create_enrollment(
    session: Session,
    customer_id: uuid.UUID,
    body: ServiceEnrollmentCreate,
    *,
    shared: bool,
    catalog: Catalog,
    crypto: SecretBox,
) -> tuple[EnrollmentRow, bool]:
    """Store a pending enrollment (or reuse a cancelled/incomplete one).

    Returns the row and whether it was reused.

    Raises:
        Unprocessable: Unknown or inactive service.
        Conflict: A live enrollment with the same parameters exists.
    """
    _check_service(catalog, body.service_id)
    params = dict(body.parameters) if body.parameters else None
    rows = await queries.for_service(session, customer_id, body.service_id, shared=shared)
    for row in rows:
        if row.status in LIVE and decrypt_parameters(row, crypto) == (params or {}):
            raise Conflict(
                f"enrollment {row.id} in this service with these parameters already exists "
                f"(status {row.status}); cancel it first or send different parameters"
            )
    reusable = next((r for r in rows if r.status in (CANCELLED, INCOMPLETE)), None)
    task_id = str(uuid.uuid4())
    if reusable is not None:
        reusable.status = PENDING
        reusable.status_reason = None
        reusable.cancelled_at = None
        reusable.task_id = task_id
        if params is not None:
            reusable.parameters_encrypted = _encrypt_parameters(params, crypto)
        await queries.flush(session)
        return reusable, True
    row = EnrollmentRow(
        customer_id=customer_id,
        shared=shared,
        service_id=body.service_id,
        status=PENDING,
        parameters_encrypted=_encrypt_parameters(params, crypto),
        task_id=task_id,
    )
    await queries.insert(session, row)
    return row, False


def create_response(row: EnrollmentRow, reused: bool) -> CustomerEnrollmentCreateResponse:
    """The 202 acknowledgement of :func:`create_enrollment`."""
    what = "re-activation" if reused else "activation"
    return CustomerEnrollmentCreateResponse(
        id=row.id,
        service_id=row.service_id,
        owner_id=None if row.shared else row.customer_id,
        status=row.status,
        task_id=row.task_id,
        message=f"enrollment accepted; {what} is running, poll GET /v1/enrollments/{row.id}",
    )


async def get_enrollment(
    session: Session, customer_id: uuid.UUID, enrollment_id: uuid.UUID
) -> EnrollmentRow:
    """The customer's enrollment ``enrollment_id``.

    Raises:
        NotFound: Unknown, or another customer's.
    """
    return await get_owned(session, EnrollmentRow, enrollment_id, customer_id, what="enrollment")


async def list_enrollments(
    session: Session,
    customer_id: uuid.UUID,
    *,
    skip: int,
    limit: int,
    shared: bool,
    crypto: SecretBox,
    catalog: Catalog,
    include_service_details: bool,
    cursor: str | None = None,
) -> CustomerEnrollmentsResponse:
    """A page of the customer's enrollments, newest first.

    ``shared=True`` (the contract's default) lists personal and shared ones;
    ``False`` only personal ones. ``count`` is the total before paging. By
    ``skip``/``limit``, or after the previous page's ``next_cursor``
    (:func:`~unitysvc_server.domain.pages.page_of`; ``skip`` in the response is then
    the page's position).

    Raises:
        Unprocessable: ``cursor`` is not one of this list's, or comes with ``skip``.
    """
    listing = queries.listing(customer_id, shared=shared)
    page = await page_of(session, listing, skip=skip, limit=limit, cursor=cursor)
    return CustomerEnrollmentsResponse(
        data=[
            to_public(r, crypto, catalog, include_service_details=include_service_details)
            for r in page.rows
        ],
        count=page.total,
        skip=page.position,
        limit=limit,
        next_cursor=page.next_cursor,
    )


async def cancel_enrollment(
    session: Session, customer_id: uuid.UUID, enrollment_id: uuid.UUID
) -> CustomerEnrollmentCancelResponse:
    """Cancel an enrollment; its parameters and code are kept for re-enrolling.

    Cancelling a cancelled enrollment is a no-op (idempotent).

    Raises:
        NotFound: Unknown, or another customer's.
    """
    row = await get_enrollment(session, customer_id, enrollment_id)
    if row.status != CANCELLED:
        row.status = CANCELLED
        row.cancelled_at = utcnow()
        await queries.flush(session)
    return CustomerEnrollmentCancelResponse(
        enrollment_id=row.id,
        status="cancelled",
        message="enrollment cancelled; the gateway no longer routes e/"
        f"{row.code or '-'}; enroll again to reactivate with the same parameters",
    )


# -- gateway lookups ----------------------------------------------------------------------------


async def active_enrollments_for(
    session: Session, customer_id: uuid.UUID, service_id: uuid.UUID
) -> Sequence[EnrollmentRow]:
    """The customer's active enrollments in ``service_id``, oldest first."""
    return await queries.in_service_with_status(session, customer_id, service_id, ACTIVE)


async def pending_ids(session: Session, limit: int = 100) -> list[uuid.UUID]:
    """Ids of pending enrollments, oldest first (the worker's queue)."""
    return await queries.ids_with_status(session, PENDING, limit)


async def lock_pending(session: Session, enrollment_id: uuid.UUID) -> EnrollmentRow | None:
    """The enrollment, locked for this transaction, if it is still pending and no other
    process holds it (``FOR UPDATE SKIP LOCKED`` on PostgreSQL); else None."""
    row = await queries.lock_skip_locked(session, enrollment_id)
    return row if row is not None and row.status == PENDING else None


@dataclass(frozen=True)
class Dispatchability:
    """Whether a customer may dispatch a service, and why not."""

    allowed: bool
    reason: str = ""


async def dispatchability(
    session: Session, customer_id: uuid.UUID, service: CatalogService
) -> Dispatchability:
    """A customer can dispatch a listed service that needs no enrollment, or one they hold."""
    if not service.is_listed:
        return Dispatchability(False, f"service {service.id} is not active")
    if not service.enrollment_required:
        return Dispatchability(True)
    if await active_enrollments_for(session, customer_id, service.id):
        return Dispatchability(True)
    return Dispatchability(
        False,
        f"service {service.name!r} needs an active enrollment; enroll with POST /v1/enrollments/",
    )

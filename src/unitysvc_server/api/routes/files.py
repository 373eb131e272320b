"""``/v1/files``: account files through presigned-style URLs served by this server.

``/files/download`` and ``/files/upload`` mint HMAC-signed tickets for
``/v1/files/object``, which streams a file out (GET) or takes an S3-style
multipart POST in, without API credentials. That endpoint is not part of the
customer API contract and is left out of the OpenAPI schema.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.datastructures import URL

from unitysvc.models import (
    AccountFileDownloadResponse,
    AccountFilesListResponse,
    AccountFileUploadRequest,
    AccountFileUploadResponse,
)
from unitysvc_server.api.deps import CustomerDep, RuntimeDep, SettingsDep
from unitysvc_server.api.upload_form import FormError, UploadTooLarge, receive_upload
from unitysvc_server.domain import files

router = APIRouter(prefix="/files", tags=["files"])


async def file_signing_key(settings: SettingsDep) -> bytes:
    """The HMAC key of file download/upload tickets."""
    # A coroutine although it never awaits: FastAPI runs a plain function in its thread
    # pool, a hand-off per files request (as api/deps.py's dependencies explain).
    if not settings.secret_key:
        # The runtime resolves the key at start; signing with an empty key would
        # make every ticket forgeable, so refuse rather than fall back.
        raise RuntimeError("the platform's secret_key was not resolved at start")
    return files.signing_key(settings.secret_key)


FileSigningKeyDep = Annotated[bytes, Depends(file_signing_key)]

Scope = Literal["personal", "shared"]


@router.get("/list")
async def list_account_files(
    customer: CustomerDep,
    runtime: RuntimeDep,
    scope: Annotated[Scope, Query(description="Which folder tree to list")] = "personal",
    path: Annotated[str, Query(description="Folder path relative to the scope root")] = "",
    max_keys: Annotated[int, Query(ge=1, le=1000)] = 100,
    continuation_token: str | None = None,
) -> AccountFilesListResponse:
    """One folder level of the customer's files."""
    return await files.list_files(
        runtime.objects,
        customer.id,
        scope=scope,
        path=path,
        max_keys=max_keys,
        continuation_token=continuation_token,
    )


@router.get("/download")
async def download_account_file(
    request: Request,
    customer: CustomerDep,
    runtime: RuntimeDep,
    signing: FileSigningKeyDep,
    key: Annotated[str, Query(description="Object key relative to the scope root")],
    scope: Annotated[Scope, Query(description="Which folder tree")] = "personal",
    expires_in: Annotated[int, Query(ge=60, le=3600)] = 900,
) -> AccountFileDownloadResponse:
    """A short-lived URL that downloads one file without credentials."""
    relative, policy, signature = await files.download_ticket(
        runtime.objects, customer.id, scope=scope, key=key, expires_in=expires_in, signing=signing
    )
    url = _object_url(request).include_query_params(policy=policy, signature=signature)
    return AccountFileDownloadResponse(
        scope=scope, key=relative, url=str(url), expires_in=expires_in
    )


@router.post("/upload")
async def upload_account_file(
    body: AccountFileUploadRequest,
    request: Request,
    customer: CustomerDep,
    signing: FileSigningKeyDep,
) -> AccountFileUploadResponse:
    """A ticket for one direct upload: POST ``fields`` then the file (``file``) to ``url``."""
    ticket, policy, signature = files.upload_ticket(customer.id, body, signing=signing)
    fields = {"key": ticket.key, "policy": policy, "signature": signature}
    if body.content_type:
        fields["Content-Type"] = body.content_type
    return AccountFileUploadResponse(
        key=ticket.key,
        url=str(_object_url(request)),
        fields=fields,
        expires_in=files.DEFAULT_EXPIRES_IN,
        max_bytes=ticket.max_bytes or 0,
        scope=ticket.scope,
    )


def _object_url(request: Request) -> URL:
    # A sibling of the calling endpoint (/v1/files/upload -> /v1/files/object): right
    # whatever the mount point and whichever host name the client used.
    folder = request.url.path.rstrip("/").rsplit("/", 1)[0]
    return request.url.replace(path=f"{folder}/object", query="")


@router.get("/object", include_in_schema=False)
async def get_account_file_object(
    runtime: RuntimeDep,
    signing: FileSigningKeyDep,
    policy: str = "",
    signature: str = "",
) -> Response:
    """Stream a file named by a signed download ticket."""
    try:
        ticket = files.verify_ticket(policy, signature, signing, "get")
    except files.TicketError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=403)
    try:
        path = files.download_path(runtime.objects, ticket)
    except files.FileMissing as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    filename = ticket.key.rsplit("/", 1)[-1]
    return FileResponse(
        path,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.post("/object", include_in_schema=False)
async def post_account_file_object(
    request: Request, runtime: RuntimeDep, signing: FileSigningKeyDep
) -> Response:
    """Take an S3-style multipart upload authorised by a signed upload ticket."""

    def open_upload(fields: dict[str, str]) -> tuple[files.Upload, int]:
        return files.open_upload(runtime.objects, fields, signing)

    try:
        size = await receive_upload(
            request.headers.get("content-type", ""), request.stream(), open_upload
        )
    except files.TicketError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=403)
    except UploadTooLarge as exc:
        return JSONResponse({"detail": str(exc)}, status_code=413)
    except FormError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    except files.FileConflict as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    return Response(status_code=204, headers={"X-Object-Size": str(size)})

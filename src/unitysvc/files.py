"""Files: the customer's account files (``/v1/files``).

Files live under a scope root: ``personal`` (your own folder) or ``shared`` (the
team's, where the plan has one). Keys and paths are relative to that root.

Bytes never go through the API calls: ``upload`` asks for a short-lived upload
ticket and posts the file to the ticket's URL; ``download`` asks for a short-lived
URL and streams it to disk. Those storage requests carry **no API key** — the
ticket or URL is the authorization.

Example::

    key = client.files.upload("report.csv", "reports")       # 'reports/report.csv'
    listing = client.files.list("reports")
    path = client.files.download(key, "copy.csv")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, Literal, TypeAlias, Unpack, get_args

import httpx

from unitysvc._core import Flow, NotGiven, RequestOptions, Save, Send, connection_error, parse
from unitysvc._ops import Async, M, Sync, op
from unitysvc._resource import Resource
from unitysvc.exceptions import error_for_status, invalid_argument
from unitysvc.models import (
    AccountFileDownloadResponse,
    AccountFilesListResponse,
    AccountFileUploadResponse,
)

__all__ = ["AsyncFiles", "FileScope", "Files"]

FileScope: TypeAlias = Literal["personal", "shared"]
_SCOPES: tuple[str, ...] = get_args(FileScope)


def _scope(scope: object) -> str:
    if scope not in _SCOPES:
        raise invalid_argument(
            "scope", scope, "'personal' (your own folder) or 'shared' (the team's folder)"
        )
    return str(scope)


def _source(src: str | Path) -> Path:
    path = Path(src)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise invalid_argument("src", str(src), f"{what}; upload takes one file")
    return path


def _destination(key: str, dest: str | Path | None) -> Path:
    """Where a download goes: ``dest``, inside ``dest`` if it is a folder, else the cwd."""
    name = key.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise invalid_argument("key", key, "names a folder, not a file")
    target = Path(dest) if dest is not None else Path(name)
    if target.is_dir():
        target = target / name
    if not target.parent.is_dir():
        raise invalid_argument(
            "dest", str(dest), f"the folder {str(target.parent)!r} does not exist"
        )
    return target


class _FilesOps(Resource[M], Generic[M]):
    def _storage(
        self, method: str, url: str, options: RequestOptions, **body: Any
    ) -> httpx.Request:
        """A request to a ticket's storage URL: the SDK's headers, never the API key."""
        config = self._ctx.core.config
        headers = {k: v for k, v in config.headers.items() if k.lower() != "authorization"}
        timeout = options.get("timeout", config.timeout)
        extensions: dict[str, Any] = {}
        if not isinstance(timeout, NotGiven):
            extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        http: httpx.Client | httpx.AsyncClient = self._ctx.core.http
        return http.build_request(method, url, headers=headers, extensions=extensions, **body)

    @op
    def list(
        self,
        path: str = "",
        *,
        scope: FileScope = "personal",
        max_keys: int = 100,
        continuation_token: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[AccountFilesListResponse]:
        """List one folder level: its files (``objects``) and subfolders (``common_prefixes``).

        Args:
            path: The folder, relative to the scope root (``""``: the root).
            scope: ``personal`` or ``shared``.
            max_keys: At most this many entries (1..1000).
            continuation_token: The previous page's ``next_continuation_token``.

        Returns:
            The listing; ``is_truncated`` says whether another page follows and
            ``shared_enabled`` whether the ``shared`` scope exists for you.
        """
        response = yield from self._call(
            "GET",
            "/files/list",
            params={
                "path": path,
                "scope": _scope(scope),
                "max_keys": max_keys,
                "continuation_token": continuation_token,
            },
            options=options,
        )
        return parse(AccountFilesListResponse, response)

    @op
    def download_url(
        self,
        key: str,
        *,
        scope: FileScope = "personal",
        expires_in: int = 900,
        **options: Unpack[RequestOptions],
    ) -> Flow[AccountFileDownloadResponse]:
        """A short-lived URL that downloads one file without credentials.

        Args:
            key: The file, relative to the scope root.
            scope: ``personal`` or ``shared``.
            expires_in: Seconds the URL stays valid (60..3600).
        """
        response = yield from self._call(
            "GET",
            "/files/download",
            params={"key": key, "scope": _scope(scope), "expires_in": expires_in},
            options=options,
        )
        return parse(AccountFileDownloadResponse, response)

    @op
    def download(
        self,
        key: str,
        dest: str | Path | None = None,
        *,
        scope: FileScope = "personal",
        **options: Unpack[RequestOptions],
    ) -> Flow[Path]:
        """Download one file to ``dest`` (default: its name in the current folder).

        The bytes stream from storage to disk; the file appears only once complete.

        Args:
            key: The file, relative to the scope root.
            dest: A file path, or a folder to put it in.
            scope: ``personal`` or ``shared``.

        Returns:
            The path written.

        Raises:
            NotFoundError: No such file.
            ValidationError: ``dest`` is in a folder that does not exist.
        """
        target = _destination(key, dest)
        ticket = yield from _FilesOps.download_url.flow(self, key, scope=scope, **options)
        request = self._storage("GET", ticket.url, options)
        try:
            response: httpx.Response = yield Send(request, stream=True)
            saved: httpx.Response = yield Save(response, target)
        except httpx.HTTPError as exc:
            raise connection_error(request, exc, attempts=1) from exc
        if not saved.is_success:
            raise error_for_status(saved.status_code, saved.content)
        return target

    @op
    def upload(
        self,
        src: str | Path,
        path: str = "",
        *,
        scope: FileScope = "personal",
        filename: str | None = None,
        content_type: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Flow[str]:
        """Upload a local file into a folder under the scope root.

        Args:
            src: The local file.
            path: The folder to put it in (``""``: the root).
            scope: ``personal`` or ``shared``.
            filename: Its name there (default: the local name).
            content_type: Its media type, if you want one recorded.

        Returns:
            The file's key, ``<path>/<filename>``.

        Raises:
            ValidationError: ``src`` is not a file, or the platform refuses the name
                or path.
            ConflictError: The key is taken in a way that cannot be replaced (a
                folder of that name).
        """
        source = _source(src)
        name = filename or source.name
        body: dict[str, object] = {
            "filename": name,
            "size": source.stat().st_size,
            "path": path,
            "scope": _scope(scope),
        }
        if content_type is not None:
            body["content_type"] = content_type
        minted = yield from self._call(
            "POST", "/files/upload", json=body, creates=True, options=options
        )
        ticket = parse(AccountFileUploadResponse, minted)
        with source.open("rb") as file:
            # The policy fields first, the file last: storage reads the form in order.
            part = (name, file, content_type) if content_type else (name, file)
            request = self._storage(
                "POST", ticket.url, options, data=ticket.fields, files={"file": part}
            )
            try:
                response: httpx.Response = yield Send(request)
            except httpx.HTTPError as exc:
                raise connection_error(request, exc, attempts=1) from exc
        if not response.is_success:
            raise error_for_status(response.status_code, response.content)
        return ticket.key


class Files(_FilesOps[Sync]):
    """Operations on the customer's account files (``/v1/files``)."""


class AsyncFiles(_FilesOps[Async]):
    """Async operations on the customer's account files (``/v1/files``)."""

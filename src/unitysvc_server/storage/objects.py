"""A small content-addressed-by-key object store on the local filesystem.

Objects live under ``<data_dir>/objects/`` and are addressed by ``/``-separated
keys (``files/<customer>/personal/reports/q1.pdf``). Writes are atomic: the bytes
go to a temporary file in ``.tmp/`` first and are renamed into place, so a reader
never sees a half-written object and a crash leaves no partial file behind. Every
key is validated, so no key can name a path outside the store.

Request logs in ``complete`` mode keep their full bodies here, and account files
are stored here.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import anyio

__all__ = [
    "InvalidKey",
    "KeyConflict",
    "ListedObject",
    "ListingPage",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectWriter",
    "validate_key",
]

_MAX_KEY_LENGTH = 1024
_MAX_SEGMENT_LENGTH = 255
_TMP_DIR = ".tmp"
# Control characters and backslashes have no business in a key: the latter would
# be a path separator on Windows, the former break listings and headers.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")


class InvalidKey(ValueError):
    """The key is empty, too long, or would escape the store."""


class ObjectNotFound(LookupError):
    """No object is stored under the key."""


class KeyConflict(ValueError):
    """The key collides with an existing folder or file (``a`` vs ``a/b``)."""


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise :class:`InvalidKey`.

    A key is one or more ``/``-separated segments; no segment may be empty, ``.``
    or ``..``, or start with ``.tmp`` at the root, and no character may be a
    control character or a backslash.
    """
    if not key or len(key) > _MAX_KEY_LENGTH:
        raise InvalidKey(f"a key must be 1..{_MAX_KEY_LENGTH} characters long")
    if _FORBIDDEN.search(key):
        raise InvalidKey("a key must not contain control characters or backslashes")
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidKey(f"invalid key {key!r}: empty, '.' and '..' segments are not allowed")
        if len(segment) > _MAX_SEGMENT_LENGTH:
            raise InvalidKey(f"a key segment must be at most {_MAX_SEGMENT_LENGTH} characters")
    if segments[0] == _TMP_DIR:
        raise InvalidKey(f"keys must not start with {_TMP_DIR!r}")
    return key


@dataclass(frozen=True, slots=True)
class ListedObject:
    """One object of a listing, its key relative to the listed prefix's root."""

    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class ListingPage:
    """One page of a one-level listing (S3 ``delimiter="/"`` semantics)."""

    objects: list[ListedObject]
    common_prefixes: list[str]
    is_truncated: bool
    #: The last name returned (object key or prefix); pass it as ``start_after``.
    last_name: str | None


class ObjectStore:
    """Keyed byte storage under one directory.

    Args:
        root: The store's directory (created on first write).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> ObjectStore:
        """The store of a platform data directory: ``<data_dir>/objects``."""
        return cls(Path(data_dir) / "objects")

    def path_for(self, key: str) -> Path:
        """The file that holds ``key`` (validated; never outside :attr:`root`)."""
        return self.root.joinpath(*validate_key(key).split("/"))

    # -- writes ----------------------------------------------------------------

    def open_writer(self, key: str) -> ObjectWriter:
        """Start writing ``key``; nothing is visible until the writer commits."""
        return ObjectWriter(self.path_for(key), self._tmp_path())

    def put_bytes(self, key: str, data: bytes) -> int:
        """Store ``data`` under ``key`` atomically, replacing any previous object."""
        with self.open_writer(key) as writer:
            writer.write(data)
        return len(data)

    async def put(self, key: str, data: bytes) -> int:
        """Async :meth:`put_bytes` (the file I/O runs in a worker thread)."""
        return await anyio.to_thread.run_sync(self.put_bytes, key, data)

    def delete(self, key: str) -> bool:
        """Remove ``key``; returns whether it existed."""
        path = self.path_for(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        return True

    def delete_tree(self, prefix: str) -> int:
        """Remove every object under the folder ``prefix``; returns how many there were."""
        folder = self.path_for(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for path in folder.rglob("*") if path.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count

    # -- reads -----------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        Raises:
            ObjectNotFound: Nothing is stored there.
        """
        try:
            return self.path_for(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc

    async def get(self, key: str) -> bytes:
        """Async :meth:`get_bytes`."""
        return await anyio.to_thread.run_sync(self.get_bytes, key)

    def stat(self, key: str) -> ListedObject:
        """Size and modification time of ``key``.

        Raises:
            ObjectNotFound: Nothing is stored there.
        """
        path = self.path_for(key)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        if not path.is_file():
            raise ObjectNotFound(key)
        return ListedObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def list_level(
        self, prefix: str, *, start_after: str | None = None, max_keys: int = 1000
    ) -> ListingPage:
        """List one folder level below ``prefix`` in lexicographic order.

        Names are relative to ``prefix``: objects as ``name``, sub-folders as
        ``name/``. Objects and folders share one ordering and one ``max_keys``
        budget, as in S3. A missing folder lists as empty.

        Args:
            prefix: A folder key (validated), or ``""`` for the store root.
            start_after: Only names strictly greater than this are returned.
            max_keys: The page size.
        """
        folder = self.path_for(prefix) if prefix else self.root
        try:
            with os.scandir(folder) as entries:
                names = sorted(_entry_names(entries, at_root=not prefix))
        except (FileNotFoundError, NotADirectoryError):
            names = []
        if start_after is not None:
            names = [(name, entry) for name, entry in names if name > start_after]
        page = names[:max_keys]
        objects: list[ListedObject] = []
        prefixes: list[str] = []
        for name, path in page:
            if name.endswith("/"):
                prefixes.append(name)
                continue
            try:
                info = path.stat()
            except FileNotFoundError:
                continue  # deleted between scandir and stat
            objects.append(
                ListedObject(name, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))
            )
        return ListingPage(
            objects=objects,
            common_prefixes=prefixes,
            is_truncated=len(names) > max_keys,
            last_name=page[-1][0] if page else None,
        )

    # -- internals -------------------------------------------------------------

    def _tmp_path(self) -> Path:
        tmp_dir = self.root / _TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return tmp_dir / uuid.uuid4().hex


class ObjectWriter:
    """An object being written: bytes go to a temp file until :meth:`commit` renames it.

    Use as a context manager (commits on success, aborts on error) or call
    :meth:`commit` / :meth:`abort` yourself.
    """

    def __init__(self, target: Path, tmp: Path) -> None:
        self._target = target
        self._tmp = tmp
        self._handle: BinaryIO = tmp.open("wb")
        self.size = 0

    def write(self, data: bytes) -> None:
        """Append bytes."""
        self._handle.write(data)
        self.size += len(data)

    def commit(self) -> None:
        """Make the object visible under its key, atomically.

        Raises:
            KeyConflict: A folder exists at the key, or a file at a parent folder.
        """
        try:
            _flush_and_close(self._handle)
            _replace(self._tmp, self._target)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Discard what was written; the key keeps its previous object, if any."""
        self._handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _flush_and_close(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _replace(tmp: Path, target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise KeyConflict(f"a folder already exists at {target.name!r}")
        os.replace(tmp, target)
    except (FileExistsError, NotADirectoryError) as exc:
        raise KeyConflict("a parent folder of the key is an existing file") from exc


def _entry_names(
    entries: Iterator[os.DirEntry[str]], *, at_root: bool
) -> Iterator[tuple[str, Path]]:
    for entry in entries:
        if at_root and entry.name == _TMP_DIR:
            continue
        if entry.is_dir(follow_symlinks=False):
            yield entry.name + "/", Path(entry.path)
        elif entry.is_file(follow_symlinks=False):
            yield entry.name, Path(entry.path)

"""Account files through the SDK, sync and async: tickets, storage transfers, listings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from unitysvc import NotFoundError, ValidationError
from unitysvc.models import AccountFileDownloadResponse, AccountFilesListResponse


def test_upload_list_download_round_trip(fresh_client: Any, tmp_path: Path) -> None:
    files = fresh_client.files
    source = tmp_path / "report.csv"
    data = b"a,b\n" + bytes(range(256)) * 300  # binary, larger than one read chunk
    source.write_bytes(data)
    key = files.upload(source, "reports/2026")
    assert key == "reports/2026/report.csv"
    renamed = files.upload(source, "reports", filename="copy.csv", content_type="text/csv")
    assert renamed == "reports/copy.csv"

    root = files.list()
    assert isinstance(root, AccountFilesListResponse)
    assert (root.scope, root.common_prefixes, root.objects) == ("personal", ["reports/"], [])
    folder = files.list("reports")
    assert [o.key for o in folder.objects] == ["reports/copy.csv"]
    assert [o.size for o in folder.objects] == [len(data)]
    assert folder.common_prefixes == ["reports/2026/"]

    written = files.download(key, tmp_path / "out.csv")
    assert written == tmp_path / "out.csv" and written.read_bytes() == data
    into_folder = files.download(key, tmp_path)
    assert into_folder == tmp_path / "report.csv"  # a folder: the file's own name inside
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_download_url_works_without_credentials(fresh_client: Any, tmp_path: Path) -> None:
    source = tmp_path / "note.txt"
    source.write_text("hello")
    key = fresh_client.files.upload(source)
    ticket = fresh_client.files.download_url(key, expires_in=60)
    assert isinstance(ticket, AccountFileDownloadResponse)
    assert (ticket.key, ticket.expires_in) == ("note.txt", 60)
    assert httpx.get(ticket.url).content == b"hello"  # the URL is the authorization
    tampered = ticket.url.replace("signature=", "signature=0")
    assert httpx.get(tampered).status_code == 403


def test_missing_file_and_bad_arguments(fresh_client: Any, tmp_path: Path) -> None:
    files = fresh_client.files
    with pytest.raises(NotFoundError):
        files.download("nope.txt", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValidationError) as info:
        files.upload(tmp_path / "absent.bin")
    assert info.value.field == "src" and "no such file" in str(info.value)
    with pytest.raises(ValidationError) as info:
        files.list(scope="team")
    assert info.value.field == "scope" and "'personal'" in str(info.value)
    with pytest.raises(ValidationError) as info:
        files.download("a.txt", tmp_path / "missing-dir" / "a.txt")
    assert info.value.field == "dest"

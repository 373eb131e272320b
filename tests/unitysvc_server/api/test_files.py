"""``/v1/files`` over HTTP: signed upload, listing and signed download round trips."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform


@pytest.fixture
def api(platform: LocalPlatform, customer_key: str) -> Iterator[httpx.Client]:
    with platform.http(customer_key) as client:
        yield client


@pytest.fixture
def other(platform: LocalPlatform, other_customer_key: str) -> Iterator[httpx.Client]:
    with platform.http(other_customer_key) as client:
        yield client


def ticket(api: httpx.Client, filename: str, size: int, path: str = "") -> dict[str, Any]:
    response = api.post("/files/upload", json={"filename": filename, "size": size, "path": path})
    assert response.status_code == 200, response.text
    return response.json()


def post_form(ticket: dict[str, Any], content: bytes) -> httpx.Response:
    # No API credentials: the signed fields are the authorisation, as with S3.
    return httpx.post(ticket["url"], data=ticket["fields"], files={"file": ("upload.bin", content)})


def upload(api: httpx.Client, filename: str, content: bytes, path: str = "") -> str:
    minted = ticket(api, filename, len(content), path)
    response = post_form(minted, content)
    assert response.status_code == 204, response.text
    return str(minted["key"])


def download(api: httpx.Client, key: str) -> httpx.Response:
    response = api.get("/files/download", params={"key": key})
    assert response.status_code == 200, response.text
    return httpx.get(response.json()["url"])


def test_upload_list_download_round_trip(api: httpx.Client) -> None:
    folder = f"reports-{uuid.uuid4().hex[:8]}"
    minted = ticket(api, "report.pdf", 11, folder)
    assert minted["key"] == f"{folder}/report.pdf"
    assert minted["max_bytes"] == 11 and minted["scope"] == "personal"
    assert minted["expires_in"] > 0 and minted["fields"]["key"] == minted["key"]
    assert post_form(minted, b"hello files").status_code == 204

    listing = api.get("/files/list", params={"path": folder}).json()
    assert listing["path"] == folder
    assert [(o["key"], o["size"]) for o in listing["objects"]] == [(f"{folder}/report.pdf", 11)]
    assert listing["common_prefixes"] == [] and listing["is_truncated"] is False
    assert listing["shared_enabled"] is False

    root = api.get("/files/list").json()
    assert f"{folder}/" in root["common_prefixes"]

    linked = api.get("/files/download", params={"key": minted["key"], "expires_in": 60}).json()
    assert linked["key"] == minted["key"] and linked["expires_in"] == 60
    fetched = httpx.get(linked["url"])  # no credentials
    assert fetched.status_code == 200 and fetched.content == b"hello files"
    assert "report.pdf" in fetched.headers["content-disposition"]


def test_same_key_overwrites(api: httpx.Client) -> None:
    name = f"{uuid.uuid4().hex}.txt"
    upload(api, name, b"first")
    upload(api, name, b"second!")
    assert download(api, name).content == b"second!"


def test_listing_pages_with_continuation_tokens(api: httpx.Client) -> None:
    folder = f"paged-{uuid.uuid4().hex[:8]}"
    for name in ["c.txt", "a.txt", "b.txt"]:
        upload(api, name, b"x", folder)
    upload(api, "deep.txt", b"x", f"{folder}/sub")
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"path": folder, "max_keys": 2}
        if token:
            params["continuation_token"] = token
        page = api.get("/files/list", params=params).json()
        seen += [o["key"] for o in page["objects"]] + page["common_prefixes"]
        token = page["next_continuation_token"]
        if not page["is_truncated"]:
            assert token is None
            break
    assert seen == [f"{folder}/{n}" for n in ["a.txt", "b.txt", "c.txt", "sub/"]]
    bad = api.get("/files/list", params={"path": folder, "continuation_token": "%%%"})
    assert bad.status_code == 422


def test_upload_larger_than_ticket_is_413_and_stores_nothing(api: httpx.Client) -> None:
    name = f"{uuid.uuid4().hex}.bin"
    minted = ticket(api, name, 10)
    response = post_form(minted, b"y" * 1000)
    assert response.status_code == 413
    assert api.get("/files/download", params={"key": name}).status_code == 404


def test_tampered_or_foreign_ticket_is_403(api: httpx.Client) -> None:
    minted = ticket(api, "a.txt", 5)
    forged = dict(minted, fields={**minted["fields"], "key": "b.txt"})
    assert post_form(forged, b"12345").status_code == 403
    bad_signature = dict(minted, fields={**minted["fields"], "signature": "AAAA"})
    assert post_form(bad_signature, b"12345").status_code == 403

    upload(api, "kept.txt", b"12345")
    url = api.get("/files/download", params={"key": "kept.txt"}).json()["url"]
    query = parse_qs(urlsplit(url).query)
    # A download ticket does not authorise an upload, and vice versa.
    as_upload = dict(
        minted,
        fields={
            "key": "kept.txt",
            "policy": query["policy"][0],
            "signature": query["signature"][0],
        },
    )
    assert post_form(as_upload, b"xxxxx").status_code == 403
    assert httpx.get(url.replace("signature=", "signature=x")).status_code == 403


def test_malformed_upload_body_is_400(api: httpx.Client) -> None:
    minted = ticket(api, "m.txt", 5)
    assert httpx.post(minted["url"], data=minted["fields"]).status_code == 400  # no file part
    assert httpx.post(minted["url"], content=b"junk").status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "../x", "size": 1}, "filename"),
        ({"filename": "a/b", "size": 1}, "filename"),
        ({"filename": "ok.txt", "size": 1, "path": "../../etc"}, "path"),
        ({"filename": "ok.txt", "size": -1}, "size"),
        ({"filename": "ok.txt", "size": 10**12}, "size"),
    ],
)
def test_upload_validation_names_the_field(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = api.post("/files/upload", json=body)
    assert response.status_code == 422, response.text
    assert ["body", field] in [item["loc"] for item in response.json()["detail"]]


def test_download_and_list_reject_traversal(api: httpx.Client) -> None:
    response = api.get("/files/download", params={"key": "a/../../secret"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "key"]
    assert api.get("/files/list", params={"path": "../.."}).status_code == 422
    assert api.get("/files/download", params={"key": "missing.txt"}).status_code == 404


def test_shared_scope_is_not_available(api: httpx.Client) -> None:
    listing = api.get("/files/list", params={"scope": "shared"}).json()
    assert listing["objects"] == [] and listing["shared_enabled"] is False
    shared_upload = api.post(
        "/files/upload", json={"filename": "x.txt", "size": 1, "scope": "shared"}
    )
    assert shared_upload.status_code == 403
    assert api.get("/files/download", params={"key": "x", "scope": "shared"}).status_code == 403


def test_files_are_private_to_their_customer(api: httpx.Client, other: httpx.Client) -> None:
    folder = f"private-{uuid.uuid4().hex[:8]}"
    key = upload(api, "mine.txt", b"secret", folder)
    assert other.get("/files/download", params={"key": key}).status_code == 404
    assert other.get("/files/list", params={"path": folder}).json()["objects"] == []


def test_files_need_a_key(platform: LocalPlatform) -> None:
    assert httpx.get(f"{platform.api_url}/files/list").status_code == 401

"""The filesystem object store: key validation, atomic writes, one-level listings."""

from __future__ import annotations

from pathlib import Path

import pytest

from unitysvc_server.storage.objects import (
    InvalidKey,
    KeyConflict,
    ObjectNotFound,
    ObjectStore,
    validate_key,
)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore.for_data_dir(tmp_path)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../secret",
        "a/../../b",
        "a/./b",
        "a//b",
        "a/",
        "a\\b",
        "a\x00b",
        ".tmp/x",
        "x" * 256,
    ],
)
def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)
    with pytest.raises(InvalidKey):
        store.path_for(key)


def test_paths_stay_inside_the_store(store: ObjectStore) -> None:
    path = store.path_for("files/c/personal/reports/q1.pdf")
    assert path.is_relative_to(store.root)
    assert path.name == "q1.pdf"


def test_put_get_overwrite_delete(store: ObjectStore) -> None:
    assert store.put_bytes("a/b.txt", b"one") == 3
    assert store.get_bytes("a/b.txt") == b"one"
    store.put_bytes("a/b.txt", b"two!")
    assert store.get_bytes("a/b.txt") == b"two!"
    assert store.stat("a/b.txt").size == 4
    assert store.delete("a/b.txt") is True
    assert store.delete("a/b.txt") is False
    with pytest.raises(ObjectNotFound):
        store.get_bytes("a/b.txt")
    with pytest.raises(ObjectNotFound):
        store.stat("a")  # a folder is not an object


def test_aborted_writer_leaves_nothing(store: ObjectStore) -> None:
    store.put_bytes("k", b"old")
    writer = store.open_writer("k")
    writer.write(b"new data")
    writer.abort()
    assert store.get_bytes("k") == b"old"
    assert list((store.root / ".tmp").iterdir()) == []


def test_file_and_folder_cannot_share_a_name(store: ObjectStore) -> None:
    store.put_bytes("reports", b"file")
    with pytest.raises(KeyConflict):
        store.put_bytes("reports/q1.pdf", b"x")
    store.put_bytes("docs/a.txt", b"x")
    with pytest.raises(KeyConflict):
        store.put_bytes("docs", b"x")


def test_listing_one_level_with_paging(store: ObjectStore) -> None:
    for key in ["r/b.txt", "r/a.txt", "r/sub/x.txt", "r/sub/deeper/y.txt", "r/c.txt", "other.txt"]:
        store.put_bytes(key, b"1234")
    first = store.list_level("r", max_keys=2)
    assert [o.key for o in first.objects] == ["a.txt", "b.txt"]
    assert first.common_prefixes == []
    assert first.is_truncated and first.last_name == "b.txt"
    second = store.list_level("r", start_after=first.last_name, max_keys=2)
    assert [o.key for o in second.objects] == ["c.txt"]
    assert second.common_prefixes == ["sub/"]
    assert not second.is_truncated
    assert all(o.size == 4 for o in first.objects + second.objects)


def test_root_listing_hides_temp_files_and_missing_folders_are_empty(store: ObjectStore) -> None:
    store.put_bytes("x", b"1")
    (store.root / ".tmp" / "leftover").write_bytes(b"partial")
    root = store.list_level("")
    assert [o.key for o in root.objects] == ["x"] and root.common_prefixes == []
    empty = store.list_level("nowhere/at/all")
    assert empty.objects == [] and empty.common_prefixes == [] and not empty.is_truncated

"""Dependencies for the object store and the file-ticket signing key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from unitysvc_server.api.deps import SettingsDep
from unitysvc_server.domain.files import signing_key
from unitysvc_server.storage.objects import ObjectStore

__all__ = ["FileSigningKeyDep", "ObjectStoreDep", "file_signing_key", "object_store"]


def object_store(settings: SettingsDep) -> ObjectStore:
    """The platform's object store (``<data_dir>/objects``)."""
    return ObjectStore.for_data_dir(settings.data_dir)


def file_signing_key(settings: SettingsDep) -> bytes:
    """The HMAC key of file download/upload tickets."""
    if not settings.secret_key:
        # The runtime resolves the key at start; signing with an empty key would
        # make every ticket forgeable, so refuse rather than fall back.
        raise RuntimeError("the platform's secret_key was not resolved at start")
    return signing_key(settings.secret_key)


ObjectStoreDep = Annotated[ObjectStore, Depends(object_store)]
FileSigningKeyDep = Annotated[bytes, Depends(file_signing_key)]

"""Encryption of values at rest and hashing of API keys.

Customer secret values are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256,
authenticated, with a random IV per value). The key comes from the settings, the
``UNITYSVC_SECRET_KEY`` environment variable, or a file generated once in the
data directory.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from unitysvc_server.config import Settings, SettingsError

SECRET_KEY_ENV = "UNITYSVC_SECRET_KEY"
SECRET_KEY_FILE = "secret.key"
API_KEY_PREFIX = "svcpass_"


class DecryptionError(RuntimeError):
    """A stored value could not be decrypted (wrong key or corrupt data)."""


class SecretBox:
    """Encrypts and decrypts short text values with one Fernet key.

    The repr never shows the key.
    """

    __slots__ = ("_fernet",)

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SettingsError(
                "secret_key: not a valid Fernet key; generate one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            ) from exc

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def encrypt(self, plaintext: str) -> str:
        """Return the Fernet token (ASCII) for ``plaintext``."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the plaintext of a token made by :meth:`encrypt`.

        Raises:
            DecryptionError: The token was made with another key or is corrupt.
        """
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise DecryptionError(
                "stored value cannot be decrypted; was the secret key changed?"
            ) from exc


def load_secret_key(settings: Settings) -> str:
    """Return the Fernet key for ``settings``, generating the key file on first use.

    Order: ``settings.secret_key``, env ``UNITYSVC_SECRET_KEY``, then
    ``<data_dir>/secret.key`` (created with mode 0600 when missing).
    """
    if settings.secret_key:
        return settings.secret_key
    from_env = os.environ.get(SECRET_KEY_ENV)
    if from_env:
        return from_env
    path = settings.data_dir / SECRET_KEY_FILE
    return _read_or_create_key_file(path)


def _read_or_create_key_file(path: Path) -> str:
    if path.exists():
        return path.read_text("ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Written whole under a temporary name, then linked into place: linking fails if
    # the name exists, so two processes starting on one data dir (``--workers``) never
    # overwrite each other's key, and the loser reads the winner's complete file (an
    # O_EXCL create let it read the file before the winner had written it).
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return path.read_text("ascii").strip()
    finally:
        temporary.unlink(missing_ok=True)
    return key.decode("ascii")


def new_api_key() -> str:
    """Return a fresh customer API key: ``svcpass_`` + 256 random bits."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """Return the stored form of an API key (hex SHA-256).

    A plain hash suffices because keys carry 256 bits of randomness: there is
    nothing to brute-force, so a slow or peppered hash would add cost without
    adding safety, and a pepper would tie every key to the server's secret key
    (rotating it would lock everybody out). See docs/decisions.md.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_key_hint(key: str) -> str:
    """Return the displayable start of a key (prefix + 4 characters)."""
    return key[: len(API_KEY_PREFIX) + 4]

"""Encryption of provider keys at rest: Fernet under a rotatable master key (MultiFernet).

The master key is ``GATEWAY_SECRET_KEY``: one Fernet key, or several separated
by commas, newest first (the newest encrypts, all of them decrypt). In
development a missing key is generated into ``<storage.path>/secret.key``;
production refuses to start without one.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.security.redaction import register_secret
from gateway.settings import Settings
from gateway.storage.base import StorageError
from gateway.storage.file import write_atomically

logger = logging.getLogger("gateway.storage.crypto")

KEY_FILE_NAME = "secret.key"
GENERATE_HINT = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class MasterKeyError(StorageError):
    """The master key is missing, malformed or does not decrypt what is stored."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(text: str, origin: str) -> list[str]:
    """Keys split on commas, spaces or newlines; MasterKeyError (no key echoed) if malformed."""
    keys = [part for part in re.split(r"[\s,]+", text) if part]
    if not keys:
        raise MasterKeyError(f"{origin} holds no master key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise MasterKeyError(
                f"{origin}: master key #{position} is not a Fernet key "
                f"(32 url-safe base64-encoded bytes); create one with {GENERATE_HINT}"
            ) from None
    return keys


class Cipher:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: list[str], origin: str) -> None:
        self.keys = keys
        self.origin = origin
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            raise MasterKeyError(
                f"the master key from {self.origin} does not decrypt a stored secret "
                "(wrong master key?)"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the first key (it may be under any of them)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError):
            raise MasterKeyError(
                f"the master key from {self.origin} does not decrypt a stored secret "
                "(wrong master key?)"
            ) from None


def key_file(settings: Settings) -> Path:
    return settings.storage.path / KEY_FILE_NAME


def load_cipher(settings: Settings) -> Cipher:
    """The master key from the settings; in development, from (or generated into) secret.key.

    Every master key loaded, from either place, is masked in whatever leaves the gateway.
    """
    cipher = _load_cipher(settings)
    for key in cipher.keys:
        register_secret(key)
    return cipher


def _load_cipher(settings: Settings) -> Cipher:
    if settings.secret_key is not None:
        return Cipher(
            parse_keys(settings.secret_key.get_secret_value(), "GATEWAY_SECRET_KEY"),
            "GATEWAY_SECRET_KEY",
        )
    if settings.is_production:
        raise MasterKeyError(
            "GATEWAY_SECRET_KEY is not set; production refuses to start without the master key "
            f"that encrypts provider keys. Create one with {GENERATE_HINT}"
        )
    path = key_file(settings)
    if not path.exists() and create_key_file(path, generate_key()):
        logger.warning(
            "GATEWAY_SECRET_KEY is not set: generated a development master key into %s; "
            "set GATEWAY_SECRET_KEY in production",
            path,
        )
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise MasterKeyError(f"master key file {path} cannot be read ({exc})") from None
    return Cipher(parse_keys(text, str(path)), str(path))


def create_key_file(path: Path, key: str) -> bool:
    """Create ``path`` holding ``key`` (mode 0600) unless it exists; False if another won.

    Written aside and hard-linked into place, so concurrent workers never read a
    half-written file and exactly one generated key wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_atomically(tmp, (key + "\n").encode())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file (newest key first) atomically, with mode 0600."""
    write_atomically(path, ("\n".join(keys) + "\n").encode())

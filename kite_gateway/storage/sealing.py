"""Secrets at rest: api secrets and access tokens are sealed with Fernet (AES-128-CBC + HMAC-SHA256)
under a key from the environment or a key file, never stored or logged in the clear."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from kite_gateway.storage.private_files import FILE_MODE, tighten

KEY_CHECK_PLAINTEXT = "kite-gateway key check"


class SealingError(Exception):
    """The key is missing, malformed or not the one the stored secrets were sealed with."""


class Sealer:
    """Seals and unseals short secrets with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise SealingError(
                "the secret key is malformed: it must be 32 url-safe base64-encoded bytes "
                "(generate one with `kite-gateway keygen`)"
            ) from None

    @staticmethod
    def generate_key() -> bytes:
        return Fernet.generate_key()

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SealingError(
                "stored secrets cannot be unsealed with this key: it is not the key they were sealed with"
            ) from None


def load_key(key: str | None, key_file: Path | None, generate_in: Path | None = None) -> bytes:
    """The key from the environment value, else the key file, else (paper mode) a key file created
    in `generate_in` with owner-only permissions."""
    if key:
        return key.strip().encode()
    if key_file is not None:
        try:
            return key_file.read_bytes().strip()
        except OSError as exc:
            raise SealingError(f"cannot read the secret key file {key_file}: {exc.strerror}") from None
    if generate_in is not None:
        path = generate_in / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Sealer.generate_key())
        tighten(path, FILE_MODE)  # one an older gateway (or a person) left readable by others
        return path.read_bytes().strip()
    raise SealingError(
        "no secret key for sealing credentials: set KITE_GATEWAY_SECRET_KEY or KITE_GATEWAY_SECRET_KEY_FILE "
        "(generate one with `kite-gateway keygen`)"
    )

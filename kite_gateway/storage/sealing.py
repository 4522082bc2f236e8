"""Secrets at rest: api secrets and access tokens (and the trading data of order updates and audit
request bodies, through AtRest) are sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key from
the environment or a key file, never stored or logged in the clear.

The key setting may hold several keys, newest first (separated by commas or newlines; a key file
holds one a line): the newest seals, every one unseals, so a key is rotated by putting a new one
first, running `kite-gateway rekey` (which re-seals everything under it), then removing the old one."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kite_gateway.storage.private_files import FILE_MODE, tighten

KEY_CHECK_PLAINTEXT = "kite-gateway key check"
_SEPARATORS = re.compile(r"[,\s]+")  # never inside a key: Fernet keys are url-safe base64


def is_sealed(text: str) -> bool:
    """Whether `text` is a Fernet token (its version byte 0x80 and a 64-bit timestamp's high zero bytes),
    not a value an older version stored in the clear (JSON)."""
    return text.startswith("gAAAAA")


class SealingError(Exception):
    """The key is missing, malformed or not the one the stored secrets were sealed with."""


def parse_keys(text: str) -> tuple[bytes, ...]:
    """The keys in a setting's or key file's text, newest first: separated by commas, spaces or
    newlines; lines starting with `#` are comments."""
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return tuple(part.encode() for line in lines for part in _SEPARATORS.split(line) if part)


class Sealer:
    """Seals secrets (and short payloads) with the newest of its Fernet keys and unseals them with any."""

    def __init__(self, keys: bytes | Sequence[bytes]) -> None:
        keys = (keys,) if isinstance(keys, bytes) else tuple(keys)
        if not keys:
            raise SealingError("no secret key for sealing credentials (generate one with `kite-gateway keygen`)")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                which = "the secret key" if len(keys) == 1 else f"secret key {position} of {len(keys)} (newest first)"
                raise SealingError(
                    f"{which} is malformed: each key must be 32 url-safe base64-encoded bytes "
                    "(generate one with `kite-gateway keygen`)"
                ) from None
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    @staticmethod
    def generate_key() -> bytes:
        return Fernet.generate_key()

    def seal(self, secret: str) -> str:
        """`secret` sealed under the newest key."""
        return self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        """The secret sealed in `sealed` by any of the keys."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise self._unopenable() from None

    def reseal(self, sealed: str) -> str | None:
        """`sealed` sealed again under the newest key; None when it already is (so rekeying twice
        changes nothing the second time)."""
        try:
            self._newest.decrypt(sealed.encode())
            return None
        except InvalidToken:
            pass
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise self._unopenable() from None

    def _unopenable(self) -> SealingError:
        if self.key_count == 1:
            return SealingError(
                "stored secrets cannot be unsealed with this key: it is not the key they were sealed with"
            )
        return SealingError(
            f"stored secrets cannot be unsealed with any of the {self.key_count} keys: "
            "none is the key they were sealed with"
        )


@dataclass(frozen=True)
class AtRest:
    """How trading data is kept at rest: sealed by `sealer`, and what must stay comparable in the clear
    (order updates' de-duplication keys) as HMAC-SHA256 under `hashing_key`, a random secret the database
    keeps sealed (CredentialStore.hashing_key): the same on every replica and across key rotations."""

    sealer: Sealer
    hashing_key: bytes

    def digest(self, text: str) -> str:
        return hmac.new(self.hashing_key, text.encode(), hashlib.sha256).hexdigest()

    def seal(self, text: str) -> str:
        return self.sealer.seal(text)

    def open(self, stored: str) -> str:
        """A stored value in the clear: unsealed, or as it is when an older version stored it unsealed."""
        return self.sealer.unseal(stored) if is_sealed(stored) else stored


def load_keys(key: str | None, key_file: Path | None, generate_in: Path | None = None) -> tuple[bytes, ...]:
    """The keys (newest first) from the environment value, else the key file, else (paper mode) a
    key file created in `generate_in` with owner-only permissions."""
    if key:
        return _some(parse_keys(key), "KITE_GATEWAY_SECRET_KEY")
    if key_file is not None:
        try:
            text = key_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not text"
            raise SealingError(f"cannot read the secret key file {key_file}: {reason}") from None
        return _some(parse_keys(text), f"the secret key file {key_file}")
    if generate_in is not None:
        path = generate_in / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Sealer.generate_key())
        tighten(path, FILE_MODE)  # one an older gateway (or a person) left readable by others
        return _some(parse_keys(path.read_text()), f"the secret key file {path}")
    raise SealingError(
        "no secret key for sealing credentials: set KITE_GATEWAY_SECRET_KEY or KITE_GATEWAY_SECRET_KEY_FILE "
        "(generate one with `kite-gateway keygen`)"
    )


def load_key(key: str | None, key_file: Path | None, generate_in: Path | None = None) -> bytes:
    """The newest key of `load_keys` (for callers that seal with one key only)."""
    return load_keys(key, key_file, generate_in)[0]


def _some(keys: tuple[bytes, ...], where: str) -> tuple[bytes, ...]:
    if not keys:
        raise SealingError(f"{where} holds no key (generate one with `kite-gateway keygen`)")
    return keys

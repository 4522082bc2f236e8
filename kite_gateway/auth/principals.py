"""Principals and their bearer tokens.

A principal is a calling service: a name, the accounts it may read, the accounts it may trade
(trading implies reading) and whether it may administer accounts and the gateway-wide kill switch.
Tokens are stored as their SHA-256 (tokens are 256-bit random values from `kite-gateway token`, so a
plain digest is enough: there is nothing to brute-force). Configuration is TOML, from a file or an
environment variable:

    [[principal]]
    name = "signal-engine"
    token_sha256 = "9f86d0..."
    read = ["ZS0001", "ZS0002"]   # "*" for every account
    trade = ["ZS0001"]
    admin = false
    algo_id = "ALGO123"           # optional: the exchange algo ID of its orders that name none
"""

from __future__ import annotations

import hashlib
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from kite_gateway.errors import GatewayError, Reason, Status
from kite_wire import order_rules

EVERY_ACCOUNT = "*"


@dataclass(frozen=True)
class Principal:
    """Who is calling, and what it may do."""

    name: str
    read: frozenset[str] = frozenset()
    trade: frozenset[str] = frozenset()
    admin: bool = False
    algo_id: str = ""  # the algo ID of this principal's orders that name none ("" : the gateway's)

    def may_trade(self, account_id: str) -> bool:
        return EVERY_ACCOUNT in self.trade or account_id in self.trade

    def may_read(self, account_id: str) -> bool:
        return EVERY_ACCOUNT in self.read or account_id in self.read or self.may_trade(account_id)

    @property
    def reads_everything(self) -> bool:
        return EVERY_ACCOUNT in self.read or EVERY_ACCOUNT in self.trade


# The caller of the RPC being handled (set by the service wrapper; the peer-named ANONYMOUS one
# when authentication is off).
current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)


def unrestricted(name: str) -> Principal:
    """What every caller is when authentication is off."""
    return Principal(name, frozenset({EVERY_ACCOUNT}), frozenset({EVERY_ACCOUNT}), admin=True)


def anonymous_name(peer: str) -> str:
    """A caller's identity when authentication is off: `anonymous@<host>`, the peer's address
    without its port, so that every connection from one host (each `grpcurl` or `buf curl` opens
    its own) is the same caller and finds the subscriptions it opened."""
    kind, _, address = unquote(peer).partition(":")
    if kind in ("ipv4", "ipv6"):
        host = address.rpartition(":")[0].strip("[]")
        return f"anonymous@{host or address}"
    return f"anonymous@{unquote(peer)}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "kgw_" + secrets.token_urlsafe(32)


class AuthConfigError(ValueError):
    """The principals configuration is invalid; the message names the entry and the problem."""


def _names(value: object, where: str, key: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise AuthConfigError(f'{where}: {key} must be a list of account ids (or "*")')
    return frozenset(value)


class Principals:
    """The configured principals, found by the digest of their token."""

    def __init__(self, entries: Iterable[tuple[str, Principal]]) -> None:
        self.by_digest: dict[str, Principal] = {}
        for digest, principal in entries:
            if digest in self.by_digest:
                raise AuthConfigError(
                    f"principal {principal.name!r}: its token is also {self.by_digest[digest].name!r}'s"
                )
            self.by_digest[digest] = principal

    @classmethod
    def from_toml(cls, text: str, source: str) -> Principals:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AuthConfigError(f"{source}: not valid TOML: {exc}") from None
        entries = document.get("principal", [])
        if not isinstance(entries, list) or not entries:
            raise AuthConfigError(f"{source}: no [[principal]] entries")
        return cls(cls._entry(entry, f"{source}: principal #{n}") for n, entry in enumerate(entries, 1))

    @staticmethod
    def _entry(entry: Mapping[str, object], where: str) -> tuple[str, Principal]:
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise AuthConfigError(f"{where}: name is required")
        where = f"{where} ({name})"
        digest = entry.get("token_sha256")
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise AuthConfigError(f"{where}: token_sha256 must be 64 lowercase hex digits (kite-gateway token)")
        unknown = set(entry) - {"name", "token_sha256", "read", "trade", "admin", "algo_id"}
        if unknown:
            raise AuthConfigError(f"{where}: unknown keys {sorted(unknown)}")
        admin = entry.get("admin", False)
        if not isinstance(admin, bool):
            raise AuthConfigError(f"{where}: admin must be true or false")
        read = _names(entry.get("read", []), where, "read")
        trade = _names(entry.get("trade", []), where, "trade")
        algo_id = entry.get("algo_id", "")
        if not isinstance(algo_id, str) or (algo_id and not order_rules.algo_id_valid(algo_id)):
            raise AuthConfigError(f"{where}: algo_id must be 1-64 letters, digits and . _ - (the exchange's algo ID)")
        return digest, Principal(name, read, trade, admin, algo_id)

    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal:
        """The principal of a call's `authorization: Bearer <token>` metadata."""
        return self.identify(metadata)[1]

    def identify(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> tuple[str, Principal]:
        """The digest of a call's bearer token and its principal (what a replica forwarding the call
        carries to the account's owner, which looks the principal up again by the digest)."""
        header = next((v for k, v in metadata or () if k == "authorization"), None)
        if header is None:
            raise unauthenticated("no bearer token: send the metadata 'authorization: Bearer <token>'")
        text = header.decode() if isinstance(header, bytes) else header
        scheme, _, token = text.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("the authorization metadata must be 'Bearer <token>'")
        digest = token_digest(token.strip())
        principal = self.by_digest.get(digest)
        if principal is None:
            raise unauthenticated("the bearer token is not one this gateway knows (revoked or mistyped?)")
        return digest, principal


def unauthenticated(message: str) -> GatewayError:
    return GatewayError(Status.UNAUTHENTICATED, Reason.CALLER_UNAUTHENTICATED, message)


def denied(principal: Principal, message: str, account_id: str = "") -> GatewayError:
    metadata = {"principal": principal.name} | ({"account_id": account_id} if account_id else {})
    return GatewayError(Status.PERMISSION_DENIED, Reason.ACCOUNT_ACCESS_DENIED, message, metadata)


def load_principals(file: Path | None, inline: str | None) -> Principals | None:
    """The principals of a TOML file or an inline TOML text (None when neither is configured)."""
    if file is not None and inline is not None:
        raise AuthConfigError("set either KITE_GATEWAY_AUTH_FILE or KITE_GATEWAY_AUTH_PRINCIPALS, not both")
    if file is not None:
        try:
            text = file.read_text()
        except OSError as exc:
            raise AuthConfigError(f"{file}: cannot read it ({exc.strerror})") from None
        return Principals.from_toml(text, str(file))
    if inline is not None:
        return Principals.from_toml(inline, "KITE_GATEWAY_AUTH_PRINCIPALS")
    return None

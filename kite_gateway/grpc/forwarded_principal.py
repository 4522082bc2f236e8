"""The caller's principal on a call one replica forwards to the account's owner, and its seal.

The replica a caller reached (the entry) authenticates the caller and forwards the call with:

    x-kg-forwarded-principal  {"at": <unix seconds>, "name": "<principal>", "token_sha256": "<digest>"}
    x-kg-hop                  1
    x-kg-forwarded-sig        hex HMAC-SHA256(cluster secret, principal, method, accounts, hop,
                              SHA-256 of the request's deterministic serialization)

and without the caller's bearer token. The owner accepts the principal only with a valid signature
made within MAX_AGE seconds over this very method, these accounts and this request (UNAUTHENTICATED
otherwise)
(a seal seen on the wire opens only for the very request it was made for: replaying it
changes nothing, since a created thing's client_order_id makes the same request idempotent),
then looks the principal up by its token's digest in its own configuration, so that what the
principal may do is the owner's decision exactly as if the caller had come directly. With caller
authentication off on every replica the principal is the caller's `anonymous@<host>` name, and
without a cluster secret it travels unsigned (accepted only by a replica whose authentication is
off too). A call is forwarded at most once: a hop other than 1 is refused.

The verified principal reaches the API wrapper (kite_gateway.grpc.registry) through
`forwarded_caller`, set only by the forwarding interceptor for the call it verified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from kite_gateway.auth import Principal, Principals, anonymous_name, unauthenticated, unrestricted
from kite_gateway.errors import GatewayError, Reason, Status

FORWARDED_PRINCIPAL = "x-kg-forwarded-principal"
FORWARDED_SIGNATURE = "x-kg-forwarded-sig"
HOP = "x-kg-hop"
SERVED_BY = "x-kg-served-by"  # response metadata: the replica that ran the call
FORWARDED_BY = "x-kg-forwarded-by"  # response metadata: the replica that forwarded it, when one did
FORWARDING_KEYS = frozenset({FORWARDED_PRINCIPAL, FORWARDED_SIGNATURE, HOP})
MAX_AGE = 300.0  # seconds a seal stays valid (clock skew between replicas, not call length)
_VERSION = "kg-forward-v2"

# The principal of the call being handled, when another replica forwarded it and its seal held.
forwarded_caller: ContextVar[Principal | None] = ContextVar("forwarded_caller", default=None)

Metadata = Iterable[tuple[str, str | bytes]]


@dataclass(frozen=True)
class Caller:
    """Who the entry replica found calling: the principal's name and its token's digest ("" when
    authentication is off there)."""

    name: str
    token_sha256: str = ""


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _values(metadata: Metadata | None) -> dict[str, str]:
    return {key: _text(value) for key, value in metadata or () if key in FORWARDING_KEYS}


def is_forwarded(metadata: Metadata | None) -> bool:
    """Whether a call says another replica forwarded it (any of the forwarding keys)."""
    return any(key in FORWARDING_KEYS for key, _ in metadata or ())


class PrincipalSeal:
    """Seals a caller onto a forwarded call (the entry) and opens the seal (the owner)."""

    def __init__(
        self, secret: bytes | None, principals: Principals | None, clock: Callable[[], float] = time.time
    ) -> None:
        if principals is not None and not secret:
            raise ValueError(
                "forwarding calls between replicas with caller authentication on needs a cluster secret "
                "(the same random bytes on every replica) to sign the forwarded principal"
            )
        self.secret = secret or None
        self.principals = principals
        self.clock = clock

    def caller(self, metadata: Metadata | None, peer: str) -> tuple[Caller, Principal]:
        """Authenticate a caller at the entry replica (UNAUTHENTICATED as the owner would answer)."""
        if self.principals is None:
            name = anonymous_name(peer)
            return Caller(name), unrestricted(name)
        digest, principal = self.principals.identify(metadata)
        return Caller(principal.name, digest), principal

    def _signature(self, principal: str, method: str, accounts: Sequence[str], hop: str, body: bytes) -> str:
        assert self.secret is not None
        digest = hashlib.sha256(body).hexdigest()
        payload = "\n".join([_VERSION, principal, method, ",".join(accounts), hop, digest]).encode()
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()

    def metadata(self, caller: Caller, method: str, accounts: Sequence[str], body: bytes) -> list[tuple[str, str]]:
        """The forwarding metadata of a call of `method` (full name) for `accounts` whose request
        serializes (deterministically) to `body`."""
        principal = json.dumps(
            {"at": int(self.clock()), "name": caller.name, "token_sha256": caller.token_sha256},
            separators=(",", ":"),
            sort_keys=True,
            ensure_ascii=True,
        )
        sealed = [(FORWARDED_PRINCIPAL, principal), (HOP, "1")]
        if self.secret is not None:
            sealed.append((FORWARDED_SIGNATURE, self._signature(principal, method, accounts, "1", body)))
        return sealed

    def open(self, metadata: Metadata | None, method: str, accounts: Sequence[str], body: bytes) -> Principal:
        """The principal a forwarded call carries (its request serializing deterministically to
        `body`); UNAUTHENTICATED unless its seal holds, and
        FAILED_PRECONDITION for a call forwarded more than once."""
        values = _values(metadata)
        principal_text, hop = values.get(FORWARDED_PRINCIPAL, ""), values.get(HOP, "")
        if self.secret is not None:
            signature = values.get(FORWARDED_SIGNATURE, "")
            expected = self._signature(principal_text, method, accounts, hop, body)
            if not hmac.compare_digest(signature.encode(), expected.encode()):
                raise unauthenticated(
                    "the forwarded principal's signature does not hold: only a replica of this cluster, "
                    "with the same cluster secret, may forward calls (send your own bearer token instead)"
                )
        if hop != "1":
            raise GatewayError(
                Status.FAILED_PRECONDITION,
                Reason.UNSPECIFIED,
                f"the call was forwarded {hop or 'an unknown number of'} times; replicas forward a call at "
                "most once (a forwarding loop?)",
            )
        try:
            carried = json.loads(principal_text)
            name, digest, at = str(carried["name"]), str(carried["token_sha256"]), float(carried["at"])
        except (ValueError, KeyError, TypeError):
            raise unauthenticated("the forwarded principal is malformed") from None
        if self.secret is not None and abs(self.clock() - at) > MAX_AGE:
            raise unauthenticated(
                f"the forwarded principal was sealed {self.clock() - at:.0f} s ago, beyond {MAX_AGE:.0f} s "
                "(replayed, or the replicas' clocks disagree: check their time synchronisation)"
            )
        if self.principals is None:
            return unrestricted(name)
        found = self.principals.by_digest.get(digest) if digest else None
        if found is None:
            raise unauthenticated(
                f"the forwarded principal {name!r} is not one this replica knows: give every replica the "
                "same principals configuration"
            )
        return found

"""A cluster for the forwarding tests: who owns which account (as the lease keeper would answer,
with each replica's view adjustable on its own), and the principals every replica shares."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from kite_gateway.auth import token_digest
from kite_gateway.grpc.forwarded_principal import FORWARDED_BY, SERVED_BY

SECRET = b"cluster-secret-for-the-tests-0123456789"
TOKENS = {"reader": "tok-reader-1", "trader": "tok-trader-1", "ops": "tok-ops-1"}
PRINCIPALS = f"""
[[principal]]
name = "reader"
token_sha256 = "{token_digest(TOKENS["reader"])}"
read = ["ZS0001", "ZS0002"]

[[principal]]
name = "trader"
token_sha256 = "{token_digest(TOKENS["trader"])}"
trade = ["ZS0001", "ZS0002"]

[[principal]]
name = "ops"
token_sha256 = "{token_digest(TOKENS["ops"])}"
admin = true
"""


def bearer(name: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {TOKENS[name]}"),)


@dataclass
class Cluster:
    """Accounts' owners (replica names; None: moving) and the replicas' addresses. `views` lets one
    replica believe something else than the rest (an ownership change it has not seen yet); `gone`
    are replicas no longer in the cluster's table (their lease time ran out)."""

    owner_of: dict[str, str | None] = field(default_factory=dict)
    address_of: dict[str, str] = field(default_factory=dict)
    views: dict[str, dict[str, str | None]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)

    def lookup(self, replica: str) -> Lookup:
        return Lookup(self, replica)


class Lookup:
    """One replica's OwnerLookup."""

    def __init__(self, cluster: Cluster, replica: str) -> None:
        self.cluster = cluster
        self.replica = replica
        self.asked: list[str] = []

    def _owner(self, account_id: str) -> str | None:
        view = self.cluster.views.get(self.replica, {})
        if account_id in view:
            return view[account_id]
        return self.cluster.owner_of.get(account_id, self.replica)

    def local(self, account_id: str) -> bool:
        return self._owner(account_id) == self.replica

    async def address(self, account_id: str) -> str | None:
        self.asked.append(account_id)
        owner = self._owner(account_id)
        return None if owner is None else self.cluster.address_of.get(owner)

    async def replica_address(self, replica_id: str) -> str | None:
        return (await self.replicas()).get(replica_id)

    async def replicas(self) -> dict[str, str]:
        return {name: address for name, address in self.cluster.address_of.items() if name not in self.cluster.gone}


def served(metadata: object) -> tuple[str | None, str | None]:
    """(x-kg-served-by, x-kg-forwarded-by) of an answer's initial metadata."""
    values = dict(metadata or ())  # type: ignore[call-overload]
    return values.get(SERVED_BY), values.get(FORWARDED_BY)


async def served_of(call: grpc.aio.Call) -> tuple[str | None, str | None]:
    return served(await call.initial_metadata())

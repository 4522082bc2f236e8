"""Leases of the clustered mode: which replica owns which lease key (an api_key and its accounts),
each with a fencing token.

A lease is a row (key, owner, generation, expires_ms). Taking a lease whose time has run out
raises its generation; renewing keeps it. Every write only the owner may make carries the owner's
(key, replica, generation) and is refused by the database when that is no longer the lease
(`FENCE_SQL`), so a replica that was paused past its lease and resumes cannot write, whatever it
believes. Times are the database's clock (one clock for every replica, so their own clocks may
drift); tests may pass their own.

Replicas announce themselves (address, draining) with the same time-to-live, so every replica
knows how many are alive (balancing) and where an account's owner is reached (forwarding)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage.database import Database

# The database's clock in milliseconds since the epoch, per backend.
SQLITE_CLOCK = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
POSTGRES_CLOCK = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"


@dataclass(frozen=True)
class Lease:
    key: str
    owner: str
    generation: int
    live: bool  # not expired by the database's clock


@dataclass(frozen=True)
class Replica:
    replica_id: str
    address: str
    draining: bool


@dataclass(frozen=True)
class FenceToken:
    """What an owner-only write carries: the lease it was made under."""

    key: str
    owner: str
    generation: int


class FencedOut(GatewayError):
    """This replica does not (or no longer) own the account's lease: nothing was written or sent."""

    def __init__(self, account_id: str, why: str) -> None:
        super().__init__(
            Status.UNAVAILABLE,
            Reason.ACCOUNT_MOVING,
            f"account {account_id} is moving to another replica of the gateway ({why}); nothing was sent, and "
            "retrying the call (with the same client_order_id) reaches its new owner",
            {"account_id": account_id},
            retry_after=1.0,
        )


class LeaseStore:
    """Leases and replicas in the gateway's database; `clock` is the backend's clock SQL
    (SQLITE_CLOCK / POSTGRES_CLOCK), or `now_ms` a clock of the test's."""

    def __init__(self, database: Database, clock: str, now_ms: Callable[[], int] | None = None) -> None:
        self.database = database
        self._clock = clock
        self._now_ms = now_ms

    def _now(self) -> tuple[str, tuple[Any, ...]]:
        """The clock as SQL, and the parameter it takes (none for the database's own)."""
        if self._now_ms is None:
            return self._clock, ()
        return "CAST(? AS BIGINT)", (self._now_ms(),)

    def fence(self, token: FenceToken) -> tuple[str, tuple[Any, ...]]:
        """A condition (and its parameters) true only while `token` is the live lease: AND it
        into an owner-only write's WHERE."""
        now, now_params = self._now()
        sql = (
            f"EXISTS (SELECT 1 FROM leases WHERE lease_key = ? AND owner = ? AND generation = ? AND expires_ms > {now})"
        )
        return sql, (token.key, token.owner, token.generation, *now_params)

    async def announce(self, replica_id: str, address: str, ttl_ms: int, draining: bool = False) -> None:
        now, params = self._now()
        await self.database.execute(
            "INSERT INTO replicas (replica_id, address, draining, expires_ms) "
            f"VALUES (?, ?, ?, {now} + ?) ON CONFLICT (replica_id) DO UPDATE SET address = excluded.address, "
            "draining = excluded.draining, expires_ms = excluded.expires_ms",
            (replica_id, address, int(draining), *params, ttl_ms),
        )

    async def retire(self, replica_id: str) -> None:
        """This replica is stopping: it no longer counts as alive."""
        await self.database.execute("DELETE FROM replicas WHERE replica_id = ?", (replica_id,))

    async def replicas(self) -> list[Replica]:
        """The replicas alive now."""
        now, params = self._now()
        rows = await self.database.fetch_all(
            f"SELECT replica_id, address, draining FROM replicas WHERE expires_ms > {now} ORDER BY replica_id",
            params,
        )
        return [Replica(row[0], row[1], bool(row[2])) for row in rows]

    async def leases(self) -> dict[str, Lease]:
        now, params = self._now()
        rows = await self.database.fetch_all(
            f"SELECT lease_key, owner, generation, CASE WHEN expires_ms > {now} THEN 1 ELSE 0 END FROM leases",
            params,
        )
        return {row[0]: Lease(row[0], row[1], int(row[2]), bool(row[3])) for row in rows}

    async def acquire(self, key: str, replica_id: str, ttl_ms: int) -> int | None:
        """Take `key` if nobody holds it (never held, released or expired): its new generation, or
        None when another replica's lease is live."""
        now, params = self._now()
        changed = await self.database.execute(
            "INSERT INTO leases (lease_key, owner, generation, expires_ms) "
            f"VALUES (?, ?, 1, {now} + ?) ON CONFLICT (lease_key) DO UPDATE SET owner = excluded.owner, "
            f"generation = leases.generation + 1, expires_ms = excluded.expires_ms WHERE leases.expires_ms <= {now}",
            (key, replica_id, *params, ttl_ms, *params),
        )
        if not changed:
            return None
        row = await self.database.fetch_one(
            "SELECT generation FROM leases WHERE lease_key = ? AND owner = ?", (key, replica_id)
        )
        return int(row[0]) if row else None

    async def renew(self, token: FenceToken, ttl_ms: int) -> bool:
        """Extend a lease still ours (same owner and generation, even if its time ran out while
        nobody took it: then nobody else wrote under a newer one); False when it was taken."""
        now, params = self._now()
        changed = await self.database.execute(
            f"UPDATE leases SET expires_ms = {now} + ? WHERE lease_key = ? AND owner = ? AND generation = ?",
            (*params, ttl_ms, token.key, token.owner, token.generation),
        )
        return changed == 1

    async def release(self, token: FenceToken) -> None:
        """Give a lease up at once (a hand-off): the next replica may take it without waiting."""
        await self.database.execute(
            "UPDATE leases SET expires_ms = 0 WHERE lease_key = ? AND owner = ? AND generation = ?",
            (token.key, token.owner, token.generation),
        )

    async def forget(self, keys: Iterable[str]) -> None:
        """Drop the leases of keys that no longer exist (an app with no account left)."""
        for key in keys:
            await self.database.execute("DELETE FROM leases WHERE lease_key = ? AND expires_ms <= 0", (key,))

    async def expires_in_ms(self, key: str) -> int | None:
        """Milliseconds until `key`'s lease runs out (0 or less: it has; None: never taken)."""
        now, params = self._now()
        row = await self.database.fetch_one(
            f"SELECT expires_ms - {now} FROM leases WHERE lease_key = ?", (*params, key)
        )
        return None if row is None else int(row[0])

    async def owner_address(self, key: str) -> str | None:
        """Where the live owner of `key` is reached (None: nobody owns it right now)."""
        now, params = self._now()
        row = await self.database.fetch_one(
            "SELECT r.address FROM leases l JOIN replicas r ON r.replica_id = l.owner "
            f"WHERE l.lease_key = ? AND l.expires_ms > {now} AND r.expires_ms > {now}",
            (key, *params, *params),
        )
        return str(row[0]) if row else None

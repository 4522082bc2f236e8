"""This replica's part in the cluster: the leases it holds (one per Kite app, i.e. api_key: Kite
counts ticker connections per app, so an app's accounts move together and the per-app budget holds
cluster-wide), the fence on its owner-only writes, and where every other account's owner is.

Each lease round also takes in what other replicas stored (logins, logouts, kill switches), so a
replica that owns nothing yet still knows every account and every engaged switch within a round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

import structlog

from kite_gateway.cluster.fencing import AccountFence
from kite_gateway.cluster.lease_keeper import LeaseKeeper
from kite_gateway.core.accounts import AccountManager, AccountSession
from kite_gateway.core.risk import KillSwitches
from kite_gateway.storage import LeaseStore

log = structlog.get_logger(__name__)

Owning = Callable[[list[AccountSession]], Awaitable[None]]


class Membership:
    """`start_owning(sessions)` starts what an owner runs for those accounts (their ticker and
    order-update watch), `stop_owning(account_ids)` stops it; both must not raise."""

    def __init__(
        self,
        store: LeaseStore,
        replica_id: str,
        accounts: AccountManager,
        kill_switches: KillSwitches,
        *,
        ttl: float,
        start_owning: Owning,
        stop_owning: Callable[[list[str]], Awaitable[None]],
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.kill_switches = kill_switches
        self._start_owning = start_owning
        self._stop_owning = stop_owning
        self.keeper = LeaseKeeper(
            store, replica_id, "", self._keys, ttl=ttl, on_acquired=self._acquired, on_lost=self._lost
        )
        self.fence = AccountFence(self.keeper, store, self.lease_key)
        self._owned_accounts: dict[str, set[str]] = {}  # lease key -> the accounts started under it
        # Told when a lease is lost or handed off (after its accounts stopped): orders queued for them
        # look again, and are sent back to retry on the new owner.
        self.lost_listeners: list[Callable[[], None]] = []

    def lease_key(self, account_id: str) -> str | None:
        session = self.accounts.sessions.get(account_id)
        return None if session is None else session.api_key

    # The forwarding's OwnerLookup ---------------------------------------------------------------

    def local(self, account_id: str) -> bool:
        """Owned here, or unknown to this replica (the local servicer answers NOT_FOUND)."""
        key = self.lease_key(account_id)
        return key is None or self.keeper.token(key) is not None

    async def address(self, account_id: str) -> str | None:
        key = self.lease_key(account_id)
        return None if key is None else await self.store.owner_address(key)

    async def replica_address(self, replica_id: str) -> str | None:
        """Where a live replica is reached (None: it is not part of the cluster now); read afresh, so
        that a replica started since the last lease round is found."""
        return (await self.replicas()).get(replica_id)

    async def replicas(self) -> dict[str, str]:
        """Every live replica's address by its id, this one's included (draining ones too: they still
        hold their streams until they stop)."""
        return {replica.replica_id: replica.address for replica in await self.store.replicas()}

    async def retry_after(self, account_id: str) -> float:
        """Until the unreachable owner's lease runs out, and a round for another replica to take it."""
        key = self.lease_key(account_id)
        left = None if key is None else await self.store.expires_in_ms(key)
        return max(0.0, (left or 0) / 1000) + self.keeper.ttl / 3

    # The keeper's callbacks ---------------------------------------------------------------------

    async def _keys(self) -> Collection[str]:
        changed = await self.accounts.refresh()
        switches = dict(self.kill_switches.states)
        await self.kill_switches.load()
        if self.kill_switches.states != switches:
            for listener in self.kill_switches.listeners:
                listener()
        for key, started in self._owned_accounts.items():  # a login elsewhere of an app held here
            fresh = [self.accounts.sessions[a] for a in changed if self.lease_key(a) == key]
            if fresh:
                started.update(s.account_id for s in fresh)
                await self._start_owning(fresh)
        return {session.api_key for session in self.accounts.all()}

    async def _acquired(self, key: str) -> None:
        sessions = [s for s in self.accounts.all() if s.api_key == key]
        self._owned_accounts[key] = {s.account_id for s in sessions}
        await self._start_owning(sessions)

    async def _lost(self, key: str) -> None:
        await self._stop_owning(sorted(self._owned_accounts.pop(key, set())))
        for listener in self.lost_listeners:
            listener()

    # Lifecycle ----------------------------------------------------------------------------------

    def start(self, address: str) -> None:
        """Take part, reached by other replicas at `address` (host:port of this gRPC server)."""
        self.keeper.address = address
        self.keeper.start()

    def healthy(self) -> bool:
        return self.keeper.healthy()

    async def drain(self) -> None:
        await self.keeper.drain()

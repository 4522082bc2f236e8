"""The lease keeper: one per replica, it takes, renews, balances and hands off the leases of the
clustered mode.

Every round (a third of the time-to-live) it announces the replica, renews what it holds, then
takes free leases up to its share (keys / live replicas, the remainder to the first by id) and hands off what it holds
beyond it, so leases spread over the replicas and move when one dies (its leases expire) or
drains (it releases them at once). A lease is used locally only until a deadline taken before its
last renewal was sent (start + ttl - margin, on this process's monotonic clock), so a replica that
was paused or cut off from the database stops acting as owner before the database's lease runs
out; the fencing condition in the database refuses what slips through."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import structlog

from kite_gateway.errors import GatewayError
from kite_gateway.storage import FencedOut, FenceToken, LeaseStore

log = structlog.get_logger(__name__)


@dataclass
class _Held:
    token: FenceToken
    valid_until: float  # monotonic seconds


def _rank(replica_id: str, key: str) -> bytes:
    """Rendezvous order: each replica prefers different keys, so they rarely race for one."""
    return hashlib.sha256(f"{replica_id}\0{key}".encode()).digest()


class LeaseKeeper:
    """Leases of `keys()` for `replica_id` (reached at `address`); `on_acquired(key)` and
    `on_lost(key)` start and stop what the owner of a key runs (they must not raise)."""

    def __init__(
        self,
        store: LeaseStore,
        replica_id: str,
        address: str,
        keys: Callable[[], Awaitable[Collection[str]]],
        *,
        ttl: float,
        on_acquired: Callable[[str], Awaitable[None]],
        on_lost: Callable[[str], Awaitable[None]],
        margin: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.replica_id = replica_id
        self.address = address
        self.keys = keys
        self.ttl = ttl
        self.margin = ttl / 6 if margin is None else margin
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self._monotonic = monotonic
        self._held: dict[str, _Held] = {}
        self._draining = False
        self._last_round: float | None = None  # monotonic time of the last round that reached the database
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl * 1000)

    # What the rest of the replica asks ----------------------------------------------------------

    def token(self, key: str) -> FenceToken | None:
        """The lease this replica may act under for `key` now (None: not the owner, or no longer sure)."""
        held = self._held.get(key)
        if held is None or self._monotonic() >= held.valid_until:
            return None
        return held.token

    def held(self) -> list[str]:
        return sorted(key for key in self._held if self.token(key) is not None)

    def healthy(self) -> bool:
        """The keeper reached the database within the last time-to-live (it can hold and take leases)."""
        return self._last_round is not None and self._monotonic() - self._last_round < self.ttl

    def fence(self, key: str, account_id: str) -> FenceToken:
        """The token for an owner-only write on `account_id` (whose lease key is `key`), or FencedOut."""
        token = self.token(key)
        if token is None:
            raise FencedOut(account_id, f"replica {self.replica_id} does not hold its lease")
        return token

    # The loop -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lease-keeper")

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except Exception as exc:  # the database is down (or worse): keep only what the deadline allows
                log.warning("leases.round_failed", error=getattr(exc, "message", None) or repr(exc))
                await self._expire_local()
            await asyncio.sleep(self.ttl / 3)

    async def round(self) -> None:
        """One round: announce, renew, take up to the fair share, hand off beyond it."""
        async with self._lock:
            started = self._monotonic()
            await self.store.announce(self.replica_id, self.address, self.ttl_ms, self._draining)
            for key, held in list(self._held.items()):
                if await self.store.renew(held.token, self.ttl_ms):
                    held.valid_until = started + self.ttl - self.margin
                else:
                    log.warning("leases.lost", key=key, generation=held.token.generation)
                    del self._held[key]
                    await self.on_lost(key)
            self._last_round = started
            if self._draining:
                return
            await self._balance(started)

    async def _balance(self, started: float) -> None:
        keys = set(await self.keys())
        for key in [k for k in self._held if k not in keys]:  # its accounts are gone
            await self._hand_off(key)
        live = sorted({r.replica_id for r in await self.store.replicas() if not r.draining} | {self.replica_id})
        # Shares that add up to the keys exactly: the first (keys mod live) replicas by id take one more.
        base, extra = divmod(len(keys), len(live))
        share = base + (1 if live.index(self.replica_id) < extra else 0)
        leases = await self.store.leases()
        free = sorted(
            (k for k in keys if k not in self._held and (k not in leases or not leases[k].live)),
            key=lambda k: _rank(self.replica_id, k),
        )
        for key in free:
            if len(self._held) >= share:
                break
            generation = await self.store.acquire(key, self.replica_id, self.ttl_ms)
            if generation is None:
                continue
            self._held[key] = _Held(FenceToken(key, self.replica_id, generation), started + self.ttl - self.margin)
            log.info("leases.acquired", key=key, generation=generation)
            await self.on_acquired(key)
        # Beyond the share (a replica joined): hand one off per round, the least preferred first,
        # so leases move gradually while the newcomer takes them.
        if len(self._held) > share:
            await self._hand_off(max(self._held, key=lambda k: _rank(self.replica_id, k)))

    async def _hand_off(self, key: str) -> None:
        held = self._held.pop(key)
        await self.on_lost(key)  # stopped here before anyone else may start
        await self.store.release(held.token)
        log.info("leases.released", key=key, generation=held.token.generation)

    async def _expire_local(self) -> None:
        """Without the database, stop owning what can no longer be renewed in time."""
        now = self._monotonic()
        for key, held in list(self._held.items()):
            if now >= held.valid_until:
                log.warning("leases.expired_locally", key=key, generation=held.token.generation)
                del self._held[key]
                await self.on_lost(key)

    async def drain(self) -> None:
        """Hand every lease off now (SIGTERM): stop owning, release, and stop counting as alive."""
        self._draining = True
        await self.close()  # no round runs beside the hand-off
        async with self._lock:
            for key in list(self._held):
                try:
                    await self._hand_off(key)
                except GatewayError as exc:  # the lease will expire by itself
                    log.warning("leases.release_failed", key=key, error=exc.message)
            with contextlib.suppress(GatewayError):
                await self.store.retire(self.replica_id)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

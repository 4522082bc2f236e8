"""Live ticks across replicas: the account's owner holds Kite's ticker connections and relays them
over the bus; every other replica's tick hub for the account is fed from the bus instead of Kite,
so today's mailboxes and conflation serve its subscribers unchanged.

- The owner publishes every binary frame Kite sends (kg.ticks.<account>, the Kite wire format as
  received, kite_wire decodes it) while some other replica wants the account's instruments, and its
  upstream state (kg.tickstate.<account>) on every change and every `every` seconds.
- Every other replica publishes what its subscribers want of the account (kg.interest.<account>:
  its instrument -> level map) on every change and every `every` seconds; the owner holds the union
  of those and its own subscribers' upstream. A replica not heard from for `ttl` seconds is forgotten.
- When the account's lease moves (`acquired` / `lost`), the replica's hub switches between Kite and
  the bus, keeping its subscribers: they are told RECONNECTING until the new upstream is up.
- A bus outage, or an owner silent for `ttl` seconds, is shown to subscribers as RECONNECTING, the
  way a dropped Kite connection is shown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from kite_gateway.cluster.bus import Bus, Subscription
from kite_gateway.streaming import (
    LEVEL_OF_MODE,
    AccountTicks,
    Callbacks,
    Ticker,
    TickerFactory,
    TickStreams,
    UpstreamConnection,
    UpstreamState,
)
from kite_wire import decode_message

log = structlog.get_logger(__name__)

EVERY = 2.0  # seconds between re-publications of interest and state
OpenTicks = Callable[[str], Awaitable[AccountTicks | None]]  # the owner opens an account's hub for others


@dataclass
class OwnerState:
    """The last upstream state an account's owner published."""

    state: UpstreamState
    message: str
    replica: str
    at: float  # monotonic


@dataclass
class Interest:
    levels: dict[int, int]
    at: float  # monotonic


class BusTicker:
    """An account's upstream on a replica that does not own it: the owner's frames and state, from the bus."""

    def __init__(self, relay: TickRelay, account_id: str, callbacks: Callbacks) -> None:
        self.relay = relay
        self.account_id = account_id
        self.callbacks = callbacks
        self.wanted: dict[int, str] = {}
        self.owner_state: UpstreamState | None = None  # the owner's, as last reported to the hub
        self.frames = 0
        self.stopped = False
        self.withdrawn = True  # its last published interest was empty (or none was published)
        self._subscription: Subscription | None = None
        self._opening = asyncio.create_task(self._open())

    @property
    def connections(self) -> Sequence[UpstreamConnection]:
        return ()

    async def _open(self) -> None:
        bus = self.relay.bus
        self._subscription = await bus.subscribe(bus.subject("ticks", self.account_id), self._on_frame)
        known = self.relay.owner_state(self.account_id)
        if known is not None and bus.healthy():
            self.owner_said(known)

    async def _on_frame(self, _subject: str, frame: bytes) -> None:
        if self.stopped:
            return
        self.frames += 1
        if self.callbacks.frame is not None:
            self.callbacks.frame(0, frame)
        try:
            ticks = decode_message(frame)
        except (ValueError, IndexError) as exc:
            log.warning("relay.bad_frame", account_id=self.account_id, error=str(exc)[:200])
            return
        await self.callbacks.ticks(ticks)  # as the Kite reader does: the subscribers take it before the next

    def owner_said(self, said: OwnerState) -> None:
        """The owner published its state: tell the hub when it changed."""
        if self.stopped or said.state == self.owner_state:
            return
        self.owner_state = said.state
        self.callbacks.state(0, said.state, f"{said.message} (on replica {said.replica})")

    def lost_owner(self, message: str) -> None:
        """The owner's word cannot reach this replica (bus down, owner silent): RECONNECTING."""
        if self.stopped or self.owner_state is None:
            return
        self.owner_state = None
        self.callbacks.state(0, UpstreamState.RECONNECTING, message)

    async def subscribe(self, wanted: dict[int, str]) -> None:
        self.wanted.update(wanted)
        self.relay.interest_changed(self.account_id)

    async def unsubscribe(self, tokens: list[int]) -> None:
        for token in tokens:
            self.wanted.pop(token, None)
        self.relay.interest_changed(self.account_id)

    def ensure_connected(self) -> None:
        """Order updates come from the owner's log, not from a connection here: nothing to hold."""

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self._opening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._opening
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        if self.wanted:
            self.wanted = {}
            self.relay.interest_changed(self.account_id)


class TickRelay:
    """One replica's side of the relay. `owns(account)` is what the lease says, as told through
    `acquired` / `lost`. Install with `start()`, which makes the TickStreams ask it for each
    account's upstream (Kite's connections when owned, else a BusTicker)."""

    def __init__(
        self,
        bus: Bus,
        tick_streams: TickStreams,
        replica_id: str,
        open_ticks: OpenTicks | None = None,
        every: float = EVERY,
        ttl: float | None = None,
    ) -> None:
        self.bus = bus
        self.tick_streams = tick_streams
        self.replica_id = replica_id
        self.open_ticks = open_ticks
        self.every = every
        self.ttl = ttl if ttl is not None else 3 * every + 1
        self.owned: set[str] = set()
        self.interest: dict[str, dict[str, Interest]] = {}  # account -> replica -> what it wants
        self.states: dict[str, OwnerState] = {}  # account -> its owner's last word (any replica)
        self.reported: dict[str, tuple[UpstreamState, str]] = {}  # owned account -> its Kite state
        self.refused: dict[str, list[int]] = {}  # owned account -> tokens others want that do not fit
        self._dirty: set[str] = set()  # accounts whose interest (or, owned, state) to publish now
        self._wake = asyncio.Event()
        self._locks: dict[str, asyncio.Lock] = {}
        self._subscriptions: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self._opening: set[str] = set()

    # Lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self.tick_streams.choose_ticker = self.choose_ticker
        self.bus.on_connected.append(self._on_bus_up)
        self.bus.on_disconnected.append(self._on_bus_down)
        self._subscriptions = [
            await self.bus.subscribe(self.bus.every_account("interest"), self._on_interest),
            await self.bus.subscribe(self.bus.every_account("tickstate"), self._on_state),
        ]
        self._task = asyncio.create_task(self._publish_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        with contextlib.suppress(ValueError):
            self.bus.on_connected.remove(self._on_bus_up)
        with contextlib.suppress(ValueError):
            self.bus.on_disconnected.remove(self._on_bus_down)

    def owns(self, account_id: str) -> bool:
        return account_id in self.owned

    def _lock(self, account_id: str) -> asyncio.Lock:
        return self._locks.setdefault(account_id, asyncio.Lock())

    # Which upstream ---------------------------------------------------------------------------

    def choose_ticker(self, account_id: str, kite: TickerFactory) -> TickerFactory:
        """The TickStreams hook: Kite's connections (relayed to the bus) when this replica owns the
        account, else the owner's feed from the bus."""
        if self.owns(account_id):
            asyncio.get_running_loop().call_soon(self._dirty_now, account_id)  # apply others' interest once made
            return self._owner_ticker(account_id, kite)
        return lambda callbacks: BusTicker(self, account_id, callbacks)

    def _owner_ticker(self, account_id: str, kite: TickerFactory) -> TickerFactory:
        ticks_subject = self.bus.subject("ticks", account_id)
        publish = self.bus.publish
        interest = self.interest

        def make(callbacks: Callbacks) -> Ticker:
            record = callbacks.frame

            def frame(index: int, message: bytes | str) -> None:
                if isinstance(message, bytes) and len(message) > 1 and interest.get(account_id):
                    publish(ticks_subject, message)
                if record is not None:
                    record(index, message)

            def state(index: int, upstream: UpstreamState, message: str) -> None:
                callbacks.state(index, upstream, message)
                if self.owns(account_id):
                    self.reported[account_id] = (UpstreamState(upstream), message)
                    self._publish_state(account_id)

            return kite(Callbacks(callbacks.ticks, callbacks.text, state, frame))

        return make

    async def acquired(self, account_id: str) -> None:
        """This replica now holds the account's lease: its hub (if open) moves to Kite's connections,
        holding what other replicas want too."""
        async with self._lock(account_id):
            if account_id in self.owned:
                return
            self.owned.add(account_id)
            ticks = self.tick_streams.find(account_id)
            if ticks is not None and isinstance(ticks.ticker, BusTicker):
                refused = await ticks.replace_ticker(
                    self._owner_ticker(account_id, ticks.kite_ticker),
                    "this replica took over the account's ticker connection",
                    self._union(account_id),
                )
                ticks.ticker.ensure_connected()  # the owner's connection carries the account's order updates
                self._note_refused(account_id, refused)
            log.info("relay.acquired", account_id=account_id, replica=self.replica_id, open=ticks is not None)
        self._dirty_now(account_id)

    async def lost(self, account_id: str) -> None:
        """This replica no longer holds the account's lease: its hub (if open) is fed from the bus."""
        async with self._lock(account_id):
            if account_id not in self.owned:
                return
            self.owned.discard(account_id)
            self.reported.pop(account_id, None)
            self.refused.pop(account_id, None)
            ticks = self.tick_streams.find(account_id)
            if ticks is not None and not isinstance(ticks.ticker, BusTicker):
                await ticks.replace_ticker(
                    lambda callbacks: BusTicker(self, account_id, callbacks),
                    "the account's ticker connection moved to another replica",
                )
            log.info("relay.lost", account_id=account_id, replica=self.replica_id, open=ticks is not None)

    # Interest ---------------------------------------------------------------------------------

    def interest_changed(self, account_id: str) -> None:
        """A BusTicker's wanted set changed: publish it now."""
        self._dirty_now(account_id)

    def _dirty_now(self, account_id: str) -> None:
        self._dirty.add(account_id)
        self._wake.set()

    def _union(self, account_id: str) -> dict[int, int]:
        union: dict[int, int] = {}
        for entry in self.interest.get(account_id, {}).values():
            for token, level in entry.levels.items():
                union[token] = max(level, union.get(token, -1))
        return union

    def _on_interest(self, name: str, payload: bytes) -> None:
        account_id = self.bus.account_of(name)
        try:
            message = json.loads(payload)
            replica = str(message["replica"])
            levels = {int(token): int(level) for token, level in message["levels"]}
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("relay.bad_interest", account_id=account_id, error=str(exc)[:200])
            return
        if replica == self.replica_id:
            return
        replicas = self.interest.setdefault(account_id, {})
        before = replicas.get(replica)
        if levels:
            replicas[replica] = Interest(levels, time.monotonic())
        else:
            replicas.pop(replica, None)
            if not replicas:
                self.interest.pop(account_id, None)
        if self.owns(account_id) and (before is None or before.levels != levels):
            self._dirty_now(account_id)  # apply the new union, and tell a newcomer the state at once

    async def _apply_interest(self, account_id: str) -> None:
        """On the owner: hold the union of the other replicas' interest upstream."""
        async with self._lock(account_id):
            if not self.owns(account_id):
                return
            union = self._union(account_id)
            ticks = self.tick_streams.find(account_id)
            if ticks is None and union and self.open_ticks is not None and account_id not in self._opening:
                self._opening.add(account_id)
                try:
                    ticks = await self.open_ticks(account_id)
                finally:
                    self._opening.discard(account_id)
            if ticks is None or isinstance(ticks.ticker, BusTicker) or ticks.remote == union:
                return
            self._note_refused(account_id, await ticks.set_remote_interest(union))

    def _note_refused(self, account_id: str, refused: list[int]) -> None:
        if refused != self.refused.get(account_id, []):
            log.warning("relay.over_limit", account_id=account_id, refused=refused[:20], count=len(refused))
        if refused:
            self.refused[account_id] = refused
        else:
            self.refused.pop(account_id, None)

    def _publish_interest(self, account_id: str, ticker: BusTicker) -> None:
        levels = [[token, int(LEVEL_OF_MODE[mode])] for token, mode in ticker.wanted.items()]
        ticker.withdrawn = not levels
        payload = json.dumps({"replica": self.replica_id, "levels": levels}, separators=(",", ":"))
        self.bus.publish(self.bus.subject("interest", account_id), payload.encode())

    # Owner's state ----------------------------------------------------------------------------

    def owner_state(self, account_id: str) -> OwnerState | None:
        """The account's owner's last word, if it is another replica's and recent."""
        said = self.states.get(account_id)
        if said is None or said.replica == self.replica_id or time.monotonic() - said.at > self.ttl:
            return None
        return said

    def _publish_state(self, account_id: str) -> None:
        reported = self.reported.get(account_id)
        if reported is None:
            return
        state, message = reported
        payload = json.dumps({"replica": self.replica_id, "state": int(state), "message": message})
        self.bus.publish(self.bus.subject("tickstate", account_id), payload.encode())

    def _on_state(self, name: str, payload: bytes) -> None:
        account_id = self.bus.account_of(name)
        try:
            message = json.loads(payload)
            said = OwnerState(
                UpstreamState(int(message["state"])), str(message["message"]), str(message["replica"]), time.monotonic()
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("relay.bad_state", account_id=account_id, error=str(exc)[:200])
            return
        if said.replica == self.replica_id:
            return
        self.states[account_id] = said
        ticker = self._bus_ticker(account_id)
        if ticker is not None:
            ticker.owner_said(said)

    def _bus_ticker(self, account_id: str) -> BusTicker | None:
        ticks = self.tick_streams.find(account_id)
        return ticks.ticker if ticks is not None and isinstance(ticks.ticker, BusTicker) else None

    def _bus_tickers(self) -> list[BusTicker]:
        return [t.ticker for t in self.tick_streams.accounts.values() if isinstance(t.ticker, BusTicker)]

    # Bus events and the periodic work ---------------------------------------------------------

    def _on_bus_down(self) -> None:
        for ticker in self._bus_tickers():
            ticker.lost_owner("the cluster bus (NATS) is down: ticks from the account's owner cannot arrive")

    def _on_bus_up(self) -> None:
        for account_id in list(self.tick_streams.accounts):
            self._dirty_now(account_id)  # interest and owned states at once, for whoever missed them

    async def _publish_loop(self) -> None:
        last_round = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, last_round + self.every - time.monotonic())):
                    await self._wake.wait()
            self._wake.clear()
            if time.monotonic() >= last_round + self.every:
                last_round = time.monotonic()
                self._expire()
                accounts = set(self.tick_streams.accounts) | self._dirty | (self.owned & set(self.interest))
            else:
                accounts = set(self._dirty)
            self._dirty.clear()
            for account_id in sorted(accounts):
                try:
                    await self._round(account_id)
                except Exception:
                    log.exception("relay.round_failed", account_id=account_id)

    async def _round(self, account_id: str) -> None:
        if self.owns(account_id):
            await self._apply_interest(account_id)
            self._publish_state(account_id)
            return
        ticker = self._bus_ticker(account_id)
        if ticker is not None and not ticker.stopped and not (ticker.withdrawn and not ticker.wanted):
            self._publish_interest(account_id, ticker)  # an empty map withdraws this replica's interest (once)

    def _expire(self) -> None:
        now = time.monotonic()
        for account_id, replicas in list(self.interest.items()):
            for replica, entry in list(replicas.items()):
                if now - entry.at > self.ttl:
                    del replicas[replica]
                    log.info("relay.interest_expired", account_id=account_id, replica=replica)
                    self._dirty.add(account_id)
            if not replicas:
                del self.interest[account_id]
        for ticker in self._bus_tickers():
            said = self.states.get(ticker.account_id)
            if ticker.owner_state is not None and (said is None or now - said.at > self.ttl):
                ticker.lost_owner(f"no word from the account's owner for {self.ttl:.0f}s")

    def stats(self) -> dict[str, Any]:
        return {
            "owned": sorted(self.owned),
            "remote_interest": {a: len(self._union(a)) for a in self.interest},
            "refused": {a: len(r) for a, r in self.refused.items()},
        }

"""Live ticks of an account: one AccountTicker upstream (holding the union of every subscriber's
instruments, each in the richest level anyone asked for), fanned out to subscriber mailboxes. Each
tick is encoded once per instrument and level by the TickEncoding the hub is given, and those bytes
are shared by every subscriber at that level."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import structlog

from kite_gateway.core.market import Listing
from kite_gateway.streaming.connection_budget import ConnectionBudget
from kite_gateway.streaming.fanout import Fanout, Mailbox
from kite_gateway.streaming.recorder import FrameRecorder
from kite_gateway.streaming.ticks import (
    KITE_MODE,
    LEVEL_OF_MODE,
    SubscriptionOutcome,
    SubscriptionState,
    TickEncoding,
    TickLevel,
    UpstreamState,
)
from kite_gateway.streaming.upstream import (
    AccountTicker,
    Callbacks,
    OverLimit,
    Ticker,
    TickerFactory,
    UpstreamConnection,
)
from kite_wire import IST, SESSIONS, MarketHours, Tick

log = structlog.get_logger(__name__)

# Which upstream an account gets: given the account and the factory of its Kite connections, the
# factory to use (the clustered mode's relay answers with the owner's feed on other replicas).
TickerChoice = Callable[[str, TickerFactory], TickerFactory]

# Ticks of a frame converted between two turns of the event loop: a frame of Kite's spread cadence
# (~300 ticks) goes out as one message per subscriber; a 3000-tick frame in six (bench/RESULTS.md).
CHUNK_TICKS = 500


@dataclass(frozen=True, slots=True)
class ConnectionStats:
    """One upstream ticker connection: its state, what it carries, and when (Unix seconds)."""

    index: int
    state: UpstreamState
    instruments_by_level: tuple[int, int, int]  # LTP, QUOTE, FULL
    reconnects: int
    last_frame_time: float | None  # None before the first frame
    connect_time: float | None  # None before the first connection
    uptime: float  # seconds since it came up; 0 while it is not connected


@dataclass(frozen=True, slots=True)
class AccountTickStats:
    """An account's tick hub at a glance (for metrics)."""

    account_id: str
    state: UpstreamState  # the account's feed as its subscribers are told it
    connections: list[ConnectionStats]
    ticks_in: int
    ticks_delivered: int
    ticks_conflated: int
    queue_depths: list[int]  # per open subscription: instruments with a tick waiting
    last_tick_at: datetime | None = None  # when the last tick arrived (the hub's clock); None before the first


def _connection_stats(connection: UpstreamConnection, now: float, wall: float) -> ConnectionStats:
    levels = [LEVEL_OF_MODE[mode] for mode in connection.wanted.values()]
    state = UpstreamState(connection.state)
    return ConnectionStats(
        index=connection.index,
        state=state,
        instruments_by_level=(levels.count(TickLevel.LTP), levels.count(TickLevel.QUOTE), levels.count(TickLevel.FULL)),
        reconnects=connection.reconnects,
        last_frame_time=wall - (now - connection.last_frame) if connection.last_frame else None,
        connect_time=wall - (now - connection.connect_time) if connection.connect_time else None,
        uptime=now - connection.connect_time if state == UpstreamState.CONNECTED else 0.0,
    )


class AccountTicks:
    def __init__(
        self,
        account_id: str,
        websocket_endpoint: str,
        api_key: str,
        access_token: str,
        symbols: dict[int, str],
        encoding: TickEncoding,
        stale_after: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        recorder: FrameRecorder | None = None,
        budget: ConnectionBudget | None = None,
        choose_ticker: TickerChoice | None = None,
        **connection_options: Any,
    ) -> None:
        self.account_id = account_id
        self.access_token = access_token
        self.symbols = symbols
        self.encoding = encoding
        self.fanout: Fanout[int] = Fanout()
        self.state = UpstreamState.UNSPECIFIED
        url = f"{websocket_endpoint}?{urlencode({'api_key': api_key, 'access_token': access_token})}"
        self.recorder = recorder
        self.callbacks = Callbacks(self._on_ticks, self._on_text, self._on_state, recorder.record if recorder else None)

        def kite_ticker(callbacks: Callbacks) -> Ticker:
            return AccountTicker(url, callbacks, api_key, account_id, budget, **connection_options)

        self.kite_ticker: TickerFactory = kite_ticker  # the account's own Kite connections
        self.remote: dict[int, int] = {}  # token -> level other replicas' subscribers want (on the owner)
        factory = choose_ticker(account_id, kite_ticker) if choose_ticker is not None else kite_ticker
        self.ticker: Ticker = factory(self.callbacks)
        self.ticks_in = 0
        self.stale_after = stale_after
        self.clock = clock
        self.hours = MarketHours()
        self.last_tick = time.monotonic()
        self.last_tick_at: datetime | None = None  # the same moment by `clock` (what the alerts compare)
        self._watchdog = asyncio.create_task(self._watch_staleness())
        self.order_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.state_listeners: list[Callable[[UpstreamState, UpstreamState, str], None]] = []

    # Upstream events --------------------------------------------------------------------------

    async def _on_ticks(self, raws: list[Tick]) -> None:
        """A frame from upstream, converted and handed to the subscribers CHUNK_TICKS ticks at a time,
        with a turn of the event loop after each chunk: the subscribers' writers send a frame's first
        ticks while the rest converts (and take the last chunk before the next frame is read, since
        the upstream reader awaits this). A frame's ticks reach a mailbox in the frame's order."""
        received = time.time_ns()
        self.ticks_in += len(raws)
        self.last_tick = time.monotonic()
        if raws:
            self.last_tick_at = self.clock()
        if self.state == UpstreamState.STALE and raws:
            self._on_state(0, UpstreamState.CONNECTED, "ticks are flowing again")
        for start in range(0, len(raws), CHUNK_TICKS):
            self._publish(raws[start : start + CHUNK_TICKS], received)
            await asyncio.sleep(0)

    def _publish(self, raws: list[Tick], received: int) -> None:
        encode = self.encoding.tick
        for raw in raws:
            symbol = self.symbols.get(raw.instrument_token, "")
            arrived = LEVEL_OF_MODE[raw.mode]

            def payload(level: int, raw: Tick = raw, symbol: str = symbol, arrived: int = arrived) -> bytes:
                return encode(raw, min(level, arrived), symbol, received)  # never richer than what arrived

            self.fanout.publish(raw.instrument_token, payload)

    def _on_text(self, message: dict[str, Any]) -> None:
        if message.get("type") == "order" and isinstance(message.get("data"), dict):
            for listener in self.order_listeners:
                listener(message["data"])
        elif message.get("type") == "error":
            log.warning("ticker.error", account_id=self.account_id, message=str(message.get("data"))[:300])

    def _on_state(self, index: int, state: UpstreamState, message: str) -> None:
        previous, self.state = self.state, UpstreamState(state)
        for listener in self.state_listeners:
            listener(previous, self.state, message)
        self.fanout.note_all(self.encoding.upstream_status(self.state, message, time.time_ns()))
        log.info("ticker.state", account_id=self.account_id, connection=index, state=self.state.name, message=message)

    async def _watch_staleness(self) -> None:
        """Flag the feed STALE when subscribed instruments stay silent while their exchange is open."""
        while True:
            await asyncio.sleep(min(1.0, self.stale_after / 2))
            if self.state != UpstreamState.CONNECTED or not self.fanout.holders:
                continue
            self.check_staleness(time.monotonic() - self.last_tick, self.clock())

    def check_staleness(self, quiet: float, now: datetime) -> None:
        """Flag STALE after `quiet` seconds without ticks at `now` if a subscribed instrument's exchange
        is in session then (by the trading calendar: a silent feed on a holiday or weekend is not stale)."""
        if self.state != UpstreamState.CONNECTED or quiet < self.stale_after:
            return
        exchanges = {self.symbols.get(token, ":").split(":")[0] for token in self.fanout.holders}
        # silent for how long while in session: a feed quiet since yesterday's close is not stale at the open
        silent = {e: min(quiet, in_session) for e in exchanges if (in_session := self._in_session_for(e, now)) > 0}
        open_now = sorted(e for e, seconds in silent.items() if seconds >= self.stale_after)
        if open_now:
            longest = max(silent[e] for e in open_now)
            self._on_state(0, UpstreamState.STALE, f"no ticks for {longest:.0f}s while {', '.join(open_now)} is open")

    def _in_session_for(self, exchange: str, now: datetime) -> float:
        """Seconds since `exchange`'s session in progress opened (0 when it is closed or unknown)."""
        if exchange not in SESSIONS:
            return 0.0
        window = self.hours.session(exchange, now.astimezone(IST).date())
        if window is None or not window[0] <= now < window[1]:
            return 0.0
        return (now - window[0]).total_seconds()

    @property
    def last_frame(self) -> float:
        return max((c.last_frame for c in self.ticker.connections), default=0.0)

    # Subscriptions ----------------------------------------------------------------------------

    async def _apply(self, token: int, before: int, after: int) -> None:
        extra = self.remote.get(token, -1)  # what other replicas want of it is held upstream too
        before, after = max(before, extra), max(after, extra)
        if after == before:
            return
        if after < 0:
            await self.ticker.unsubscribe([token])
        else:
            await self.ticker.subscribe({token: KITE_MODE[TickLevel(after)]})

    async def add(
        self, mailbox: Mailbox[int], listings: Sequence[Listing | None], level: TickLevel
    ) -> list[SubscriptionOutcome]:
        """Subscribe the mailbox to each listing at `level` (None: an instrument not in the master)."""
        outcomes = []
        for listing in listings:
            if listing is None:
                outcomes.append(
                    SubscriptionOutcome(
                        SubscriptionState.UNKNOWN_INSTRUMENT, message="not in today's instrument master"
                    )
                )
                continue
            token, symbol = listing.instrument_token, listing.symbol
            before, after = self.fanout.hold(mailbox, token, level)
            try:
                await self._apply(token, before, after)
            except OverLimit as exc:
                self.fanout.release(mailbox, token)
                outcomes.append(SubscriptionOutcome(SubscriptionState.OVER_LIMIT, token, symbol, message=str(exc)))
                continue
            mailbox.pending.pop(token, None)
            outcomes.append(SubscriptionOutcome(SubscriptionState.ACCEPTED, token, symbol, level))
        return outcomes

    async def remove(self, mailbox: Mailbox[int], listings: Sequence[Listing | None]) -> list[SubscriptionOutcome]:
        outcomes = []
        for listing in listings:
            if listing is None or listing.instrument_token not in mailbox.wants:
                outcomes.append(
                    SubscriptionOutcome(SubscriptionState.NOT_SUBSCRIBED, message="not in this subscription")
                )
                continue
            token = listing.instrument_token
            await self._apply(token, *self.fanout.release(mailbox, token))
            mailbox.pending.pop(token, None)
            outcomes.append(SubscriptionOutcome(SubscriptionState.REMOVED, token, listing.symbol))
        return outcomes

    async def close(self, mailbox: Mailbox[int]) -> None:
        """End a subscription: instruments nobody else holds are unsubscribed in one message per
        connection; those others hold at a lower level are downgraded."""
        gone, lower = [], {}
        for token, before, after in self.fanout.close(mailbox):
            extra = self.remote.get(token, -1)
            before, after = max(before, extra), max(after, extra)
            if after < 0:
                gone.append(token)
            elif after < before:
                lower[token] = KITE_MODE[TickLevel(after)]
        if gone:
            await self.ticker.unsubscribe(gone)
        if lower:
            await self.ticker.subscribe(lower)

    # The clustered mode -------------------------------------------------------------------------

    def _level(self, token: int) -> int:
        return max(self.fanout.level(token), self.remote.get(token, -1))

    def wanted(self) -> dict[int, str]:
        """Every instrument upstream should carry, in the richest mode anyone (here or elsewhere) wants."""
        return {
            token: KITE_MODE[TickLevel(level)]
            for token in self.fanout.holders.keys() | self.remote.keys()
            if (level := self._level(token)) >= 0
        }

    async def set_remote_interest(self, levels: dict[int, int]) -> list[int]:
        """On the account's owner: the instruments (token -> level) subscribers on other replicas
        want, held upstream beside this replica's own. The tokens that did not fit (OverLimit)."""
        old, self.remote = self.remote, dict(levels)
        gone, changed = [], {}
        for token in old.keys() | levels.keys():
            local = self.fanout.level(token)
            before, after = max(local, old.get(token, -1)), max(local, levels.get(token, -1))
            if after == before:
                continue
            if after < 0:
                gone.append(token)
            else:
                changed[token] = KITE_MODE[TickLevel(after)]
        if gone:
            await self.ticker.unsubscribe(gone)
        refused = await self._subscribe_what_fits(changed)
        for token in refused:
            self.remote.pop(token, None)  # asked again with the next interest
        return refused

    async def _subscribe_what_fits(self, wanted: dict[int, str]) -> list[int]:
        if not wanted:
            return []
        try:
            await self.ticker.subscribe(wanted)
            return []
        except OverLimit:
            pass
        refused = []
        for token, mode in wanted.items():
            try:
                await self.ticker.subscribe({token: mode})
            except OverLimit:
                refused.append(token)
        log.warning("ticker.over_limit", account_id=self.account_id, refused=len(refused), of=len(wanted))
        return refused

    async def replace_ticker(
        self, factory: TickerFactory, message: str, remote: dict[int, int] | None = None
    ) -> list[int]:
        """Switch the account's upstream (its ownership moved: Kite's connections here, or the
        owner's feed over the bus) keeping every subscriber. They are told RECONNECTING with
        `message`, as for a dropped connection, until the new upstream reports its state. `remote`:
        what other replicas want (when this replica becomes the owner). The tokens that did not fit."""
        old = self.ticker
        self.ticker = factory(self.callbacks)  # subscriptions changed from now on go to the new one
        self.remote = dict(remote or {})
        self._on_state(0, UpstreamState.RECONNECTING, message)
        await old.stop()
        refused = await self._subscribe_what_fits(self.wanted())
        for token in refused:
            self.remote.pop(token, None)
        return refused

    def connections(self) -> list[ConnectionStats]:
        now, wall = time.monotonic(), time.time()
        return [_connection_stats(connection, now, wall) for connection in self.ticker.connections]

    def stats(self) -> AccountTickStats:
        return AccountTickStats(
            account_id=self.account_id,
            state=self.state,
            connections=self.connections(),
            ticks_in=self.ticks_in,
            ticks_delivered=self.fanout.delivered_total,
            ticks_conflated=self.fanout.conflated_total,
            queue_depths=[len(m.pending) for m in self.fanout.mailboxes.values()],
            last_tick_at=self.last_tick_at,
        )

    async def stop(self) -> None:
        self._watchdog.cancel()
        for mailbox in list(self.fanout.mailboxes.values()):
            mailbox.close()
        await self.ticker.stop()
        if self.recorder is not None:
            await self.recorder.close()


class TickStreams:
    """Every account's live ticks, created on first use and rebuilt when the account logs in anew."""

    def __init__(
        self,
        websocket_endpoint: str,
        encoding: TickEncoding,
        record_dir: Path | None = None,
        choose_ticker: TickerChoice | None = None,
        **connection_options: Any,
    ) -> None:
        self.websocket_endpoint = websocket_endpoint
        self.choose_ticker = choose_ticker  # None: every account's own Kite connections
        self.encoding = encoding
        self.record_dir = record_dir
        self.options = connection_options
        self.accounts: dict[str, AccountTicks] = {}
        self.budget = ConnectionBudget()  # Kite's ticker connections per api_key, shared by its accounts

    async def get(self, account_id: str, api_key: str, access_token: str, symbols: dict[int, str]) -> AccountTicks:
        current = self.accounts.get(account_id)
        if current is not None and current.access_token != access_token:
            await current.stop()
            current = None
        if current is None:
            recorder = await FrameRecorder.create(self.record_dir, account_id) if self.record_dir else None
            current = AccountTicks(
                account_id,
                self.websocket_endpoint,
                api_key,
                access_token,
                symbols,
                self.encoding,
                recorder=recorder,
                budget=self.budget,
                choose_ticker=self.choose_ticker,
                **self.options,
            )
            self.accounts[account_id] = current
        return current

    def find(self, account_id: str) -> AccountTicks | None:
        return self.accounts.get(account_id)

    def stats(self) -> list[AccountTickStats]:
        """Every account's hub, by account id: connection states and uptimes, ticks in and out, queues."""
        return [self.accounts[account_id].stats() for account_id in sorted(self.accounts)]

    async def stop(self) -> None:
        for streams in self.accounts.values():
            await streams.stop()

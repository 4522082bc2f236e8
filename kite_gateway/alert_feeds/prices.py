"""Price alerts' events: live quotes of the instruments the PRICE_CROSS and PERCENT_MOVE rules name
(`EXCHANGE:TRADINGSYMBOL`), as PriceEvents (last price, and the previous close for PERCENT_MOVE's
`reference = "close"`).

The quotes come from one internal subscriber on one active account's tick hub, through the same
refcounted fan-out as StreamTicks and the exits' PriceWatch: no Kite connection of its own, an
instrument someone else already streams costs nothing upstream, and its mailbox conflates like any
other (a slow alert center never holds the feed back; it is handed the newest quote of each).
Which account: one whose session is ACTIVE, preferring one whose hub is connected, then one with a
hub, then any (its hub is opened then). `follow(instruments)` sets the instruments (when the rules
change); `run()` looks again every `interval` seconds, so that a new login, an expired session or
an instrument missing from yesterday's master is caught up with."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import structlog

from kite_gateway.alert_feeds.outlet import Emit, Outlet
from kite_gateway.alert_feeds.polling import DEFAULT_INTERVAL, Sleep, every
from kite_gateway.core.accounts import AccountManager, AccountSession, SessionState
from kite_gateway.core.alerts import AlertRule, PercentMoveRule, PriceCrossRule, PriceEvent
from kite_gateway.core.market import InstrumentMaster, Listing
from kite_gateway.errors import GatewayError
from kite_gateway.streaming import AccountTicks, Mailbox, SubscriptionState, TickLevel, TickStreams, UpstreamState

log = structlog.get_logger(__name__)

PRINCIPAL = "gateway:alerts"
QUIET = 5.0  # seconds a reader waits before looking again (nothing is lost meanwhile)

# A hub payload -> (instrument token, last price, previous close or None); kite_gateway.grpc.tick_quote
TickQuote = Callable[[bytes], tuple[int, Decimal, Decimal | None] | None]


def price_instruments(rules: Iterable[AlertRule]) -> set[str]:
    """The instruments the enabled price rules name (what to `follow`)."""
    return {rule.scope for rule in rules if rule.enabled and isinstance(rule, PriceCrossRule | PercentMoveRule)}


@dataclass(eq=False)
class _Held:
    account_id: str
    ticks: AccountTicks
    mailbox: Mailbox[int]
    listings: dict[int, Listing] = field(default_factory=dict)  # followed: token -> listing
    reader: asyncio.Task[None] | None = None


class PriceAlerts:
    """Wire: `PriceAlerts(app.accounts, app.instruments, app.tick_streams, tick_quote, center.offer)`,
    `await follow(price_instruments(rules))`, run `run()` as a task, and `await stop()` on close
    (before TickStreams.stop)."""

    def __init__(
        self,
        accounts: AccountManager,
        instruments: InstrumentMaster,
        tick_streams: TickStreams,
        quote_of: TickQuote,
        emit: Emit,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Sleep = asyncio.sleep,
        interval: float = DEFAULT_INTERVAL,
        level: TickLevel = TickLevel.QUOTE,  # QUOTE carries the close; LTP would do for PRICE_CROSS alone
        quiet_after: float = QUIET,
    ) -> None:
        self.accounts = accounts
        self.instruments = instruments
        self.tick_streams = tick_streams
        self.quote_of = quote_of
        self.emit = Outlet(emit)
        self.clock = clock
        self.sleep = sleep
        self.interval = interval
        self.level = level
        self.quiet_after = quiet_after
        self.wanted: set[str] = set()
        self.held: _Held | None = None
        self._lock = asyncio.Lock()
        # Clustered: whether this replica owns an account. Only the owner of the first account (by
        # id) watches prices, so one replica of the cluster raises each price alert.
        self.owns: Callable[[str], bool] | None = None
        self._warned: set[str] = set()  # what was logged as not followed (once each)

    # What it follows --------------------------------------------------------------------------

    async def follow(self, instruments: set[str]) -> None:
        """From now on, quotes of exactly these instruments (EXCHANGE:TRADINGSYMBOL)."""
        self.wanted = set(instruments)
        await self.look()

    def following(self) -> set[str]:
        held = self.held
        return {listing.symbol for listing in held.listings.values()} if held is not None else set()

    @property
    def account_id(self) -> str | None:
        """The account whose hub the quotes come from (None: none yet)."""
        return self.held.account_id if self.held is not None else None

    async def run(self) -> None:
        await every(self.interval, self.sleep, self.look, "prices")

    async def look(self) -> None:
        """Subscribe what is wanted and not followed (onto another account's hub when the one in
        use is gone: a new login, an expired session), unsubscribe what is no longer wanted."""
        async with self._lock:
            held = self.held
            if held is not None and (not self.wanted or not self._usable(held) or not self._watching()):
                await self._drop(held)
                held = self.held = None
            if not self.wanted or not self._watching():
                return
            if held is None:
                held = self.held = await self._open()
                if held is None:
                    return
            await self._subscribe(held)

    def _watching(self) -> bool:
        ids = sorted(session.account_id for session in self.accounts.all())
        return self.owns is None or (bool(ids) and self.owns(ids[0]))

    # The hub ----------------------------------------------------------------------------------

    def _usable(self, held: _Held) -> bool:
        session = self.accounts.sessions.get(held.account_id)
        return (
            not held.mailbox.closed
            and self.tick_streams.find(held.account_id) is held.ticks
            and session is not None
            and session.state()[0] is SessionState.ACTIVE
        )

    def _choose(self) -> AccountSession | None:
        active = [s for s in self.accounts.all() if s.state()[0] is SessionState.ACTIVE]

        def rank(session: AccountSession) -> int:
            hub = self.tick_streams.find(session.account_id)
            if hub is None:
                return 2
            return 0 if hub.state is UpstreamState.CONNECTED else 1

        return min(active, key=rank, default=None)  # min keeps the first (by account id) of a rank

    async def _open(self) -> _Held | None:
        session = self._choose()
        if session is None:
            self._warn("no-account", "alerts.prices_no_active_account", instruments=len(self.wanted))
            return None
        try:
            await self.instruments.ensure(session)
            kite = session.active()
            ticks = await self.tick_streams.get(
                session.account_id, session.api_key, kite.client.access_token, self.instruments.symbols()
            )
        except GatewayError as exc:
            log.warning("alerts.prices_no_hub", account_id=session.account_id, error=exc.message)
            return None
        self._warned.discard("no-account")
        mailbox = ticks.fanout.open(PRINCIPAL, prefix="alerts", level=int(self.level))
        held = _Held(session.account_id, ticks, mailbox)
        held.reader = asyncio.create_task(self._read(held))
        log.info("alerts.prices_from", account_id=session.account_id)
        return held

    async def _subscribe(self, held: _Held) -> None:
        wanted: dict[int, Listing] = {}
        for symbol in sorted(self.wanted):
            listing = self.instruments.by_symbol.get(symbol)
            if listing is None:
                self._warn(symbol, "alerts.price_unknown_instrument", instrument=symbol)
            else:
                wanted[listing.instrument_token] = listing
        gone = [listing for token, listing in held.listings.items() if token not in wanted]
        if gone:
            await held.ticks.remove(held.mailbox, gone)
            for listing in gone:
                del held.listings[listing.instrument_token]
        new = [listing for token, listing in wanted.items() if token not in held.listings]
        for outcome in await held.ticks.add(held.mailbox, new, self.level) if new else []:
            if outcome.state is SubscriptionState.ACCEPTED:
                held.listings[outcome.instrument_token] = wanted[outcome.instrument_token]
                self._warned.discard(outcome.symbol)
            else:
                self._warn(outcome.symbol, "alerts.price_not_followed", instrument=outcome.symbol,
                           state=outcome.state.name, why=outcome.message)  # fmt: skip

    async def _read(self, held: _Held) -> None:
        mailbox = held.mailbox
        while not mailbox.closed:
            taken = await mailbox.take(self.quiet_after)
            if taken is None:
                continue
            _notes, payloads, _conflated = taken
            at = self.clock()
            for payload in payloads:
                try:
                    found = self.quote_of(payload)
                except Exception:  # one undecodable payload must not end the quotes
                    log.exception("alerts.price_undecodable", account_id=held.account_id)
                    continue
                listing = held.listings.get(found[0]) if found is not None else None
                if found is None or listing is None:
                    continue
                _token, last_price, close = found
                self.emit(PriceEvent(listing.exchange, listing.tradingsymbol, last_price, close, at))

    async def _drop(self, held: _Held) -> None:
        if not held.mailbox.closed:
            await held.ticks.close(held.mailbox)
        if held.reader is not None:
            held.reader.cancel()
            await asyncio.gather(held.reader, return_exceptions=True)

    def _warn(self, key: str, event: str, **fields: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(event, **fields)

    async def stop(self) -> None:
        async with self._lock:
            if self.held is not None:
                await self._drop(self.held)
                self.held = None

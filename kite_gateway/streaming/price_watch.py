"""Live last prices for the gateway's own use (the automatic exits' mark-to-market): one internal
subscriber per account on the account's tick hub, at the LTP level, through the same refcounted
fan-out as StreamTicks. Its mailbox conflates like any other (one pending tick per instrument), so
a slow reader never holds the feed or other subscribers back; it is handed the newest price of
each instrument it follows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from kite_gateway.core.market import Listing
from kite_gateway.core.risk import PriceSink
from kite_gateway.streaming.fanout import Mailbox
from kite_gateway.streaming.tick_streams import AccountTicks
from kite_gateway.streaming.ticks import SubscriptionState, TickLevel

log = structlog.get_logger(__name__)

PRINCIPAL = "gateway:exits"
QUIET = 5.0  # seconds a reader waits before looking again (nothing is lost meanwhile)

TickPrice = Callable[[bytes], tuple[int, Decimal] | None]  # a hub payload -> (instrument token, last price)


@dataclass(eq=False)
class _Held:
    ticks: AccountTicks
    mailbox: Mailbox[int]
    sink: PriceSink
    tokens: set[int] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None


class PriceWatch:
    """The automatic exits' PriceFeed (kite_gateway.core.risk.exits)."""

    def __init__(
        self,
        ticks_for: Callable[[str], Awaitable[AccountTicks | None]],
        listing_of: Callable[[int], Listing | None],
        price_of: TickPrice,
        quiet_after: float = QUIET,
    ) -> None:
        self.ticks_for = ticks_for  # the account's hub (None while it has none)
        self.listing_of = listing_of
        self.price_of = price_of
        self.quiet_after = quiet_after
        self.held: dict[str, _Held] = {}

    async def follow(self, account_id: str, tokens: set[int], sink: PriceSink) -> None:
        ticks = await self.ticks_for(account_id)
        if ticks is None:
            log.warning("exits.no_tick_hub", account_id=account_id, instruments=len(tokens))
            return
        held = self.held.get(account_id)
        if held is None or held.ticks is not ticks or held.mailbox.closed:  # a new hub after a new login
            if held is not None:
                await self._drop(held)
            mailbox = ticks.fanout.open(PRINCIPAL, prefix="exits", level=int(TickLevel.LTP))
            held = self.held[account_id] = _Held(ticks, mailbox, sink)
            held.reader = asyncio.create_task(self._read(account_id, held))
        held.sink = sink
        gone = [self.listing_of(token) for token in held.tokens - tokens]
        await ticks.remove(held.mailbox, [listing for listing in gone if listing is not None])
        held.tokens &= tokens
        added = await ticks.add(held.mailbox, [self.listing_of(token) for token in tokens - held.tokens], TickLevel.LTP)
        for outcome in added:
            if outcome.state is SubscriptionState.ACCEPTED:
                held.tokens.add(outcome.instrument_token)
            else:
                log.warning("exits.not_followed", account_id=account_id, state=outcome.state.name, why=outcome.message)

    async def _read(self, account_id: str, held: _Held) -> None:
        mailbox = held.mailbox
        while not mailbox.closed:
            taken = await mailbox.take(self.quiet_after)
            if taken is None:
                continue
            _notes, payloads, _conflated = taken
            prices: dict[int, Decimal] = {}
            for payload in payloads:
                found = self.price_of(payload)
                if found is not None:
                    prices[found[0]] = found[1]
            if prices:
                try:
                    held.sink(account_id, prices)
                except Exception:  # a failing sink must not end the account's prices
                    log.exception("exits.price_sink_failed", account_id=account_id)

    async def _drop(self, held: _Held) -> None:
        if not held.mailbox.closed:
            await held.ticks.close(held.mailbox)
        if held.reader is not None:
            held.reader.cancel()
            await asyncio.gather(held.reader, return_exceptions=True)

    def following(self, account_id: str) -> set[int]:
        held = self.held.get(account_id)
        return set(held.tokens) if held is not None else set()

    async def stop(self) -> None:
        for held in list(self.held.values()):
            await self._drop(held)
        self.held.clear()

"""The exits' price feed on a real tick hub: an internal LTP subscriber that follows exactly the
instruments it is given, hands on the newest price of each, and never holds up other subscribers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal

import pytest

from kite_gateway.grpc.exit_mapping import tick_price
from kite_gateway.grpc.tick_encoding import ProtoTickEncoding
from kite_gateway.streaming import PriceWatch
from kite_gateway.streaming.tick_streams import AccountTicks
from kite_gateway.streaming.ticks import TickLevel
from kite_wire import Instrument
from kite_wire.ticker_packets import Tick

INFY, TCS = 408065, 2953217
LISTINGS = {
    token: Instrument(token, 0, name, name, "NSE", "NSE", "EQ", None, Decimal(0), Decimal("0.05"), 1, Decimal(0))
    for token, name in ((INFY, "INFY"), (TCS, "TCS"))
}


@pytest.fixture
async def hub() -> AsyncIterator[AccountTicks]:
    ticks = AccountTicks("ZS0001", "ws://127.0.0.1:1", "key", "token", {INFY: "NSE:INFY"}, ProtoTickEncoding())
    yield ticks
    await ticks.stop()


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.005)


async def test_it_hands_on_the_newest_price_of_each_instrument_it_follows(hub: AccountTicks) -> None:
    seen: list[tuple[str, Mapping[int, Decimal]]] = []

    async def ticks_for(account_id: str) -> AccountTicks:
        return hub

    watch = PriceWatch(ticks_for, LISTINGS.get, tick_price, quiet_after=0.05)
    try:
        await watch.follow("ZS0001", {INFY}, lambda a, p: seen.append((a, dict(p))))
        assert hub.fanout.level(INFY) == TickLevel.LTP and watch.following("ZS0001") == {INFY}
        await hub._on_ticks([Tick(INFY, 150025, "ltp"), Tick(INFY, 150100, "ltp"), Tick(TCS, 1, "ltp")])
        await until(lambda: bool(seen), "a price arrived")
        assert seen == [("ZS0001", {INFY: Decimal("1501")})]  # conflated to the newest; TCS not followed
        await watch.follow("ZS0001", {TCS}, lambda a, p: seen.append((a, dict(p))))
        assert INFY not in hub.fanout.holders and watch.following("ZS0001") == {TCS}
    finally:
        await watch.stop()
    assert not hub.fanout.holders  # stopping lets go of every instrument


async def test_a_sink_that_is_slow_never_holds_up_another_subscriber(hub: AccountTicks) -> None:
    taken = 0

    def slow(account_id: str, prices: Mapping[int, Decimal]) -> None:
        nonlocal taken
        taken += 1

    async def ticks_for(account_id: str) -> AccountTicks:
        return hub

    watch = PriceWatch(ticks_for, LISTINGS.get, tick_price, quiet_after=0.05)
    other = hub.fanout.open("caller")
    hub.fanout.hold(other, INFY, TickLevel.LTP)
    try:
        await watch.follow("ZS0001", {INFY}, slow)
        mailbox = watch.held["ZS0001"].mailbox
        for price in range(100, 200):
            await hub._on_ticks([Tick(INFY, price, "ltp")])  # the producer never waits on either mailbox
        assert len(other.pending) == 1 and len(mailbox.pending) <= 1
        await until(lambda: taken >= 1, "the slow sink was handed a price")
    finally:
        await watch.stop()


def test_a_tick_entry_decodes_to_its_token_and_exact_price() -> None:
    entry = ProtoTickEncoding().tick(Tick(INFY, 150025, "ltp"), 0, "NSE:INFY", 0)
    assert tick_price(entry) == (INFY, Decimal("1500.25"))
    assert tick_price(b"") is None and tick_price(b"\x12\x00") is None

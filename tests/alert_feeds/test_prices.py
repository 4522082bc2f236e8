"""Price events from a real tick hub: one internal subscriber on an active account's hub (the same
refcounted fan-out as StreamTicks), at the QUOTE level so the close comes along; it follows exactly
the instruments it is given, prefers an account whose hub is connected, moves to another account
when its session ends, and lets go of everything on stop without disturbing other subscribers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from kite_gateway.alert_feeds import PriceAlerts, price_instruments
from kite_gateway.core.alerts import PriceEvent, rules_from_toml
from kite_gateway.core.market import InstrumentMaster
from kite_gateway.grpc import tick_quote
from kite_gateway.grpc.tick_encoding import ProtoTickEncoding
from kite_gateway.streaming import TickLevel, TickStreams, UpstreamState
from kite_wire import Instrument
from kite_wire.ticker_packets import Tick
from tests.alert_feeds.accounts import accounts_of, session
from tests.alert_feeds.fakes import NOW, Recorder, clock

INFY, TCS = 408065, 2953217
LISTINGS = [
    Instrument(token, 0, name, name, "NSE", "NSE", "EQ", None, Decimal(0), Decimal("0.05"), 1, Decimal(0))
    for token, name in ((INFY, "INFY"), (TCS, "TCS"))
]


def master() -> InstrumentMaster:
    found = InstrumentMaster()
    found.by_token = {listing.instrument_token: listing for listing in LISTINGS}
    found.by_symbol = {listing.symbol: listing for listing in LISTINGS}
    found.schedule.downloaded()  # today's master: nothing to download
    return found


@pytest.fixture
async def streams() -> AsyncIterator[TickStreams]:
    streams = TickStreams("ws://127.0.0.1:1", ProtoTickEncoding())
    yield streams
    await streams.stop()


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.005)


def alerts_of(streams: TickStreams, recorder: Recorder, *account_ids: str) -> PriceAlerts:
    accounts = accounts_of(*(session(a) for a in account_ids))
    return PriceAlerts(accounts, master(), streams, tick_quote, recorder, clock, quiet_after=0.05)


def test_the_instruments_to_follow_are_those_the_enabled_price_rules_name() -> None:
    rules = rules_from_toml(
        """
        [[alerts.rules]]
        id = "infy"
        kind = "PRICE_CROSS"
        scope = "NSE:INFY"
        direction = "above"
        level = "1600"
        [[alerts.rules]]
        id = "tcs"
        kind = "PERCENT_MOVE"
        scope = "NSE:TCS"
        percent = "3"
        [[alerts.rules]]
        id = "off"
        kind = "PRICE_CROSS"
        scope = "NSE:SBIN"
        direction = "below"
        level = "1"
        enabled = false
        [[alerts.rules]]
        id = "orders"
        kind = "ORDER_STATUS"
        scope = "*"
        statuses = ["REJECTED"]
        """,
        "alerts.toml",
    )
    assert price_instruments(rules) == {"NSE:INFY", "NSE:TCS"}


async def test_a_quote_of_a_followed_instrument_becomes_a_price_event_with_its_close(streams: TickStreams) -> None:
    recorder = Recorder()
    alerts = alerts_of(streams, recorder, "ZS0001")
    try:
        await alerts.follow({"NSE:INFY"})
        hub = streams.find("ZS0001")
        assert hub is not None and alerts.account_id == "ZS0001"
        assert hub.fanout.level(INFY) == TickLevel.QUOTE and alerts.following() == {"NSE:INFY"}
        await hub._on_ticks([Tick(INFY, 150025, "quote", close=148000), Tick(TCS, 1, "quote", close=1)])
        await until(lambda: bool(recorder.events), "a quote arrived")
        assert recorder.events == [PriceEvent("NSE", "INFY", Decimal("1500.25"), Decimal(1480), NOW)]
        await hub._on_ticks([Tick(INFY, 150100, "ltp")])  # an LTP tick carries no close
        await until(lambda: len(recorder.events) == 2, "the second quote arrived")
        assert recorder.events[1] == PriceEvent("NSE", "INFY", Decimal(1501), None, NOW)
    finally:
        await alerts.stop()


async def test_following_other_instruments_lets_go_of_the_old_ones_and_stop_leaves_other_subscribers(
    streams: TickStreams,
) -> None:
    alerts = alerts_of(streams, Recorder(), "ZS0001")
    await alerts.follow({"NSE:INFY"})
    hub = streams.find("ZS0001")
    assert hub is not None
    caller = hub.fanout.open("caller")  # a StreamTicks subscriber of the same hub
    await hub.add(caller, [LISTINGS[0]], TickLevel.LTP)
    await alerts.follow({"NSE:TCS"})
    assert alerts.following() == {"NSE:TCS"} and set(hub.fanout.holders) == {INFY, TCS}
    assert hub.fanout.level(INFY) == TickLevel.LTP  # downgraded to what the caller asked for
    await alerts.stop()
    assert set(hub.fanout.holders) == {INFY} and not caller.closed
    assert list(streams.accounts) == ["ZS0001"]  # no hub (and no Kite connection) of its own


async def test_an_account_whose_hub_is_connected_is_preferred(streams: TickStreams) -> None:
    alerts = alerts_of(streams, Recorder(), "ZS0001", "ZS0002")
    other = await streams.get("ZS0002", "key-ZS0002", "token-ZS0002", {})
    other.state = UpstreamState.CONNECTED
    try:
        await alerts.follow({"NSE:INFY"})
        assert alerts.account_id == "ZS0002" and streams.find("ZS0001") is None
    finally:
        await alerts.stop()


async def test_when_the_accounts_session_ends_the_next_look_moves_to_another_active_account(
    streams: TickStreams,
) -> None:
    alerts = alerts_of(streams, Recorder(), "ZS0001", "ZS0002")
    try:
        await alerts.follow({"NSE:INFY"})
        first = streams.find("ZS0001")
        assert alerts.account_id == "ZS0001" and first is not None
        alerts.accounts.sessions["ZS0001"].token_refused("TokenException")
        await alerts.look()
        assert alerts.account_id == "ZS0002" and alerts.following() == {"NSE:INFY"}
        assert INFY not in first.fanout.holders
    finally:
        await alerts.stop()


async def test_with_no_active_account_nothing_is_followed_until_one_logs_in(streams: TickStreams) -> None:
    alerts = alerts_of(streams, Recorder())
    with capture_logs() as logs:
        await alerts.follow({"NSE:INFY", "NSE:NOPE"})
        await alerts.look()
    assert alerts.account_id is None and [e["event"] for e in logs] == ["alerts.prices_no_active_account"]
    alerts.accounts.sessions["ZS0001"] = session("ZS0001")
    with capture_logs() as logs:
        await alerts.look()
        await alerts.look()
    try:
        assert alerts.account_id == "ZS0001" and alerts.following() == {"NSE:INFY"}
        assert [e["event"] for e in logs].count("alerts.price_unknown_instrument") == 1  # told once
    finally:
        await alerts.stop()


async def test_clustered_only_the_owner_of_the_first_account_watches_prices_and_lets_go_when_it_moves(
    streams: TickStreams,
) -> None:
    alerts = alerts_of(streams, Recorder(), "ZS0001", "ZS0002")
    owned = {"ZS0002"}
    alerts.owns = owned.__contains__
    await alerts.follow({"NSE:INFY"})
    await alerts.look()
    assert alerts.account_id is None  # another replica owns ZS0001: it watches the prices
    owned.add("ZS0001")
    await alerts.look()
    try:
        assert alerts.account_id is not None and alerts.following() == {"NSE:INFY"}
        owned.discard("ZS0001")  # ZS0001's lease moved away
        await alerts.look()
        assert alerts.account_id is None
    finally:
        await alerts.stop()

"""A silent feed is STALE only while a subscribed instrument's exchange is in session by the trading
calendar: not on a holiday, a weekend or after the close (it used to be on holidays)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from kite_gateway.streaming.tick_streams import AccountTicks
from kite_gateway.streaming.ticks import TickLevel, UpstreamState
from kite_wire.formats import IST
from tests.streaming.test_tick_hub import CountingEncoding

INFY, GOLD = 408065, 53505543
QUIET = 120.0  # seconds without a tick, well past stale_after


@pytest.fixture
async def ticks() -> AsyncIterator[AccountTicks]:
    hub = AccountTicks("ZS0001", "ws://127.0.0.1:1", "key", "token", {INFY: "NSE:INFY", GOLD: "MCX:GOLD"},
                       CountingEncoding(), stale_after=30.0)  # fmt: skip
    hub.state = UpstreamState.CONNECTED
    yield hub
    await hub.stop()


def hold(hub: AccountTicks, token: int) -> None:
    hub.fanout.hold(hub.fanout.open(f"p{token}"), token, TickLevel.LTP)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 26, 11, 0, tzinfo=IST),  # Republic Day
        datetime(2026, 11, 24, 11, 0, tzinfo=IST),  # Guru Nanak Jayanti
        datetime(2026, 12, 5, 11, 0, tzinfo=IST),  # a Saturday
        datetime(2026, 12, 2, 16, 0, tzinfo=IST),  # a trading day, after the close
    ],
)
async def test_a_silent_nse_feed_is_not_stale_when_nse_is_closed(ticks: AccountTicks, moment: datetime) -> None:
    hold(ticks, INFY)
    ticks.check_staleness(QUIET, moment)
    assert ticks.state is UpstreamState.CONNECTED


async def test_a_silent_nse_feed_is_stale_in_session_and_says_which_exchange_is_open(ticks: AccountTicks) -> None:
    hold(ticks, INFY)
    ticks.check_staleness(QUIET, datetime(2026, 12, 2, 11, 0, tzinfo=IST))
    assert ticks.state is UpstreamState.STALE


async def test_a_silent_mcx_feed_is_stale_in_the_evening_session_of_an_equity_holiday(ticks: AccountTicks) -> None:
    hold(ticks, GOLD)
    ticks.check_staleness(QUIET, datetime(2026, 11, 24, 11, 0, tzinfo=IST))  # MCX's morning is closed too
    assert ticks.state is UpstreamState.CONNECTED
    ticks.check_staleness(QUIET, datetime(2026, 11, 24, 20, 0, tzinfo=IST))
    assert ticks.state is UpstreamState.STALE  # type: ignore[comparison-overlap]  # changed by check_staleness


async def test_a_feed_quiet_for_less_than_the_threshold_is_not_stale(ticks: AccountTicks) -> None:
    hold(ticks, INFY)
    ticks.check_staleness(10.0, datetime(2026, 12, 2, 11, 0, tzinfo=IST))
    assert ticks.state is UpstreamState.CONNECTED


async def test_a_feed_silent_since_yesterdays_close_is_not_stale_in_the_first_seconds_of_the_session(
    ticks: AccountTicks,
) -> None:
    hold(ticks, INFY)
    said: list[str] = []
    ticks.state_listeners.append(lambda _before, _after, message: said.append(message))
    overnight = 18 * 3600.0  # the last tick came at yesterday's close
    ticks.check_staleness(overnight, datetime(2026, 12, 2, 9, 15, 10, tzinfo=IST))  # 10 s into the session
    assert ticks.state is UpstreamState.CONNECTED
    ticks.check_staleness(overnight, datetime(2026, 12, 2, 9, 15, 40, tzinfo=IST))  # 40 s in, still silent
    assert ticks.state is UpstreamState.STALE  # type: ignore[comparison-overlap]  # changed by check_staleness
    assert said == ["no ticks for 40s while NSE is open"]  # since the open, not since yesterday

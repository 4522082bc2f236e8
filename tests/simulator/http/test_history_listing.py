"""A contract's historical candles start at its listing: before it the official client gets an empty
list, as Kite answers. `continuous=1` on an NFO or MCX future's day candles reaches back across the
expired contracts in one series; any other use of it is refused with Kite's InputException."""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from kiteconnect import KiteConnect
from kiteconnect.exceptions import InputException

from kite_simulator.threaded import ThreadedSimulator
from kite_simulator.universe import SimInstrument
from kite_wire import IST
from tests.simulator.conftest import MORNING


def contract(threaded: ThreadedSimulator, symbol: str) -> SimInstrument:
    found: SimInstrument = threaded.call(lambda: threaded.sim.universe.by_symbol[symbol])
    return found


def far_future(threaded: ThreadedSimulator, exchange: str = "NFO", name: str = "NIFTY") -> SimInstrument:
    """The underlying's contract listed last (the far month), so its listing is within reach."""
    found: SimInstrument = threaded.call(
        lambda: max(
            (
                i
                for i in threaded.sim.universe
                if i.exchange == exchange and i.name == name and i.instrument_type == "FUT"
            ),
            key=lambda i: i.expiry or MORNING.date(),
        )
    )
    return found


def at_midnight(day: Any) -> datetime:
    return datetime.combine(day, time(0, 0), IST)


def test_a_range_before_a_futures_listing_has_no_candles(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    future = far_future(threaded)
    assert future.listed is not None and future.listed < MORNING.date()
    before = at_midnight(future.listed) - timedelta(seconds=1)
    assert kite.historical_data(future.instrument_token, before - timedelta(days=60), before, "day") == []
    assert kite.historical_data(future.instrument_token, before - timedelta(days=5), before, "minute") == []


def test_a_futures_history_starts_on_its_listing_day_not_years_back(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    future = far_future(threaded)
    assert future.listed is not None
    days = kite.historical_data(future.instrument_token, MORNING - timedelta(days=1000), MORNING, "day")
    assert days and days[0]["date"].date() >= future.listed
    assert (days[0]["date"].date() - future.listed).days < 4  # the first trading day from the listing
    minutes = kite.historical_data(future.instrument_token, at_midnight(future.listed), MORNING, "60minute")
    assert minutes[0]["date"].date() == days[0]["date"].date()


def test_an_option_has_no_candles_before_its_listing_and_a_stock_has_years(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    option: SimInstrument = threaded.call(
        lambda: next(i for i in threaded.sim.universe if i.exchange == "NFO" and i.instrument_type == "CE")
    )
    assert option.listed is not None
    candles = kite.historical_data(option.instrument_token, MORNING - timedelta(days=400), MORNING, "day")
    assert candles and candles[0]["date"].date() >= option.listed
    stock = kite.historical_data(408065, MORNING - timedelta(days=1000), MORNING, "day")
    assert stock[0]["date"].date() < MORNING.date() - timedelta(days=900)


def test_continuous_day_candles_of_a_future_reach_back_across_expired_contracts_in_one_series(
    kite: KiteConnect, threaded: ThreadedSimulator
) -> None:
    future = far_future(threaded)
    assert future.listed is not None
    start = MORNING - timedelta(days=400)
    series = kite.historical_data(future.instrument_token, start, MORNING, "day", continuous=True)
    listed_only = kite.historical_data(future.instrument_token, start, MORNING, "day")
    assert series[0]["date"].date() < future.listed - timedelta(days=300)
    assert all(a["date"] < b["date"] for a, b in itertools.pairwise(series))
    assert series[-len(listed_only) :] == listed_only  # from the listing on, the contract's own candles
    rolls = [abs(b["open"] / a["close"] - 1) for a, b in itertools.pairwise(series)]
    assert max(rolls) < 0.1  # no jump at a roll beyond a day's move


def test_continuous_works_for_mcx_futures_too(kite: KiteConnect, threaded: ThreadedSimulator) -> None:
    crude = far_future(threaded, "MCX", "CRUDEOIL")
    assert crude.listed is not None
    series = kite.historical_data(
        crude.instrument_token, MORNING - timedelta(days=400), MORNING, "day", continuous=True
    )
    assert series[0]["date"].date() < crude.listed


@pytest.mark.parametrize(
    ("symbol", "interval", "message"),
    [
        ("NFO:NIFTY26DECFUT", "minute", "only available for the day interval"),
        ("NFO:NIFTY26DECFUT", "60minute", "only available for the day interval"),
        ("NSE:INFY", "day", "only available for NFO and MCX futures"),
        ("CDS:USDINR26DECFUT", "day", "only available for NFO and MCX futures"),
    ],
)
def test_continuous_is_refused_where_kite_does_not_serve_it(
    kite: KiteConnect, threaded: ThreadedSimulator, symbol: str, interval: str, message: str
) -> None:
    token = contract(threaded, symbol).instrument_token
    with pytest.raises(InputException, match=message):
        kite.historical_data(token, MORNING - timedelta(days=5), MORNING, interval, continuous=True)

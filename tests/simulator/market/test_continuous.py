"""A continuous futures series is stitched from the contracts that were nearest to expiry each day:
expired contracts rebuilt by the listed one's monthly rule and priced by their basis on the walk all
futures of an underlying share, then the listed contract from its listing; each day once."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta

import pytest

from kite_simulator.expired import continuous_segments
from kite_simulator.market import MarketModel
from kite_simulator.universe import SimInstrument, build_universe
from kite_wire import IST, MarketHours

TODAY = date(2026, 11, 25)  # a trading day (24 Nov 2026 is Guru Nanak Jayanti, an NSE holiday)
UNIVERSE = build_universe(11, TODAY)


def far(name: str, exchange: str) -> SimInstrument:
    futures = [i for i in UNIVERSE if i.name == name and i.exchange == exchange and i.instrument_type == "FUT"]
    return max(futures, key=lambda i: i.expiry or TODAY)


def at(day: date, clock: time = time(0, 0)) -> datetime:
    return datetime.combine(day, clock, IST)


@pytest.mark.parametrize(("name", "exchange"), [("NIFTY", "NFO"), ("CRUDEOIL", "MCX")])
def test_segments_follow_each_other_day_after_day_and_end_with_the_listed_contract(name: str, exchange: str) -> None:
    future = far(name, exchange)
    segments = continuous_segments(future, TODAY - timedelta(days=400), TODAY, UNIVERSE.by_symbol.get)
    assert segments[0][1] == TODAY - timedelta(days=400) and segments[-1][:2] == (future, future.listed)
    for (_, _, last), (_, first, _) in itertools.pairwise(segments):
        assert first == last + timedelta(days=1)
    for contract, _, last in segments[:-1]:
        assert contract.expiry is not None and last <= contract.expiry and contract.name == name
        assert contract.instrument_type == "FUT" and contract.tradingsymbol.endswith("FUT")
    expiries = [c.expiry or TODAY for c, _, _ in segments[:-1]]
    assert expiries == sorted(expiries) and len(set(expiries)) == len(expiries)


def test_the_stitched_series_takes_each_day_from_its_contract_and_rolls_by_the_basis() -> None:
    future = far("NIFTY", "NFO")
    assert future.listed is not None
    model = MarketModel(11, TODAY, MarketHours(False))
    start, end = at(TODAY - timedelta(days=200)), at(TODAY, time(23, 59, 59))
    segments = continuous_segments(future, start.date(), TODAY, UNIVERSE.by_symbol.get)
    series = model.stitched_day_bars(segments, start, end)
    days = [bar.start.date() for bar in series]
    assert days == sorted(set(days)) == MarketHours(False).trading_days("NFO", start.date(), TODAY)
    expired, first, last = segments[-2]
    own = model.day_bars(expired, at(first), at(last, time(23, 59)), continuous=True)
    assert own and [bar for bar in series if first <= bar.start.date() <= last] == own
    # The expired contract and the listed one follow one walk: their closes differ by the basis only.
    extended = {bar.start.date(): bar.close for bar in model.day_bars(future, start, end, continuous=True)}
    ratio = expired.base_price / future.base_price
    for bar in own:
        assert abs(bar.close / extended[bar.start.date()] - ratio) < 0.001
    assert series[-1].close == model.day_bars(future, at(TODAY), end)[-1].close

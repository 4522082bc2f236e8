"""The simulated market is reproducible from its seed, and quotes, ticks and candles agree."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from kite_simulator.market import MarketModel
from kite_simulator.universe import build_universe
from kite_wire.formats import IST
from kite_wire.market_hours import MarketHours
from tests.simulator.conftest import MORNING

DAY = MORNING.date()


def model(seed: int = 5, always_open: bool = False) -> MarketModel:
    return MarketModel(seed, DAY, MarketHours(always_open))


def test_the_same_seed_gives_the_same_universe_and_prices_whatever_the_order_of_questions() -> None:
    universe = build_universe(5, DAY)
    assert universe.csv() == build_universe(5, DAY).csv()
    first, second = model(), model()
    instruments = list(universe)[::97]
    moments = [MORNING + timedelta(seconds=s) for s in (0, 7, 3600, 13)]
    forward = [first.quote(i, t).snapshot() for i in instruments for t in moments]
    backward = [second.quote(i, t).snapshot() for i in reversed(instruments) for t in reversed(moments)]
    assert forward == list(reversed(backward))


def test_another_seed_gives_another_market() -> None:
    infy = build_universe(5, DAY).by_symbol["NSE:INFY"]
    assert model(5).quote(infy, MORNING).last_price != model(6).quote(infy, MORNING).last_price


def test_prices_stay_on_the_tick_grid_inside_the_circuits_and_the_minute_bar() -> None:
    market = model()
    for instrument in list(build_universe(5, DAY))[::41]:
        for seconds in range(0, 4 * 3600, 997):
            moment = MORNING + timedelta(seconds=seconds)
            quote = market.quote(instrument, moment)
            if instrument.tick_size:
                assert quote.last_price % instrument.tick_size == 0, instrument.symbol
            if quote.upper_circuit:
                assert quote.lower_circuit <= quote.last_price <= quote.upper_circuit, instrument.symbol
            assert quote.low <= quote.last_price <= quote.high, instrument.symbol
            path = market.day_path(instrument, DAY)
            assert path is not None
            bar = path.bar(int((moment - path.session_start).total_seconds() // 60))
            assert bar.low <= quote.last_price <= bar.high, instrument.symbol


def test_a_days_candle_is_its_minutes_aggregated_and_tomorrow_opens_from_its_close() -> None:
    market = model()
    infy = build_universe(5, DAY).by_symbol["NSE:INFY"]
    yesterday = datetime(2026, 11, 23, tzinfo=IST)
    minutes = market.minute_bars(infy, yesterday, yesterday + timedelta(hours=23))
    (day,) = market.day_bars(infy, yesterday, yesterday)
    assert len(minutes) == 375 and minutes[0].start == yesterday.replace(hour=9, minute=15)
    assert (day.open, day.close, day.volume) == (minutes[0].open, minutes[-1].close, sum(m.volume for m in minutes))
    assert (day.high, day.low) == (max(m.high for m in minutes), min(m.low for m in minutes))
    assert market.quote(infy, MORNING).close == day.close == infy.base_price


def test_fifteen_minute_candles_regroup_the_minutes_from_the_session_start() -> None:
    market = model()
    infy = build_universe(5, DAY).by_symbol["NSE:INFY"]
    yesterday = datetime(2026, 11, 23, tzinfo=IST)
    minutes = market.minute_bars(infy, yesterday, yesterday + timedelta(hours=23))
    candles = market.resample(minutes, 15)
    assert len(candles) == 25 and candles[1].start == yesterday.replace(hour=9, minute=30)
    assert candles[1].open == minutes[15].open and candles[1].close == minutes[29].close
    assert candles[1].volume == sum(m.volume for m in minutes[15:30])


def test_outside_the_session_the_price_stands_at_the_close() -> None:
    market = model()
    infy = build_universe(5, DAY).by_symbol["NSE:INFY"]
    evening = MORNING.replace(hour=20)
    path = market.day_path(infy, DAY)
    assert path is not None
    assert market.quote(infy, evening).last_price == path.bar(-1).close
    assert market.quote(infy, evening + timedelta(hours=1)).last_price == path.bar(-1).close


def test_weekends_do_not_trade_unless_the_market_is_always_open() -> None:
    saturday = date(2026, 11, 28)
    assert MarketHours().session("NSE", saturday) is None
    assert MarketHours(always_open=True).session("NSE", saturday) is not None
    assert MarketHours().is_open("MCX", datetime(2026, 11, 24, 22, 0, tzinfo=IST))
    assert not MarketHours().is_open("NSE", datetime(2026, 11, 24, 22, 0, tzinfo=IST))


def test_currency_prices_keep_four_decimals() -> None:
    universe = build_universe(5, DAY)
    usdinr = next(i for i in universe if i.segment == "CDS-FUT")
    price = model().quote(usdinr, MORNING).last_price
    assert price % Decimal("0.0025") == 0 and price.as_tuple().exponent == -4


def test_the_cheapest_and_dearest_instruments_of_each_segment_pack_into_every_mode() -> None:
    from kite_wire.ticker_packets import MODES, decode_packet, encode_packet

    market = model()
    universe = list(build_universe(5, DAY))
    extremes = {
        pick(segment_members, key=lambda i: i.base_price)
        for segment in {i.segment for i in universe}
        for segment_members in [[i for i in universe if i.segment == segment]]
        for pick in (min, max)
    }
    for instrument in extremes | set(universe[::25]):
        for moment in (MORNING.replace(hour=9, minute=15), MORNING, MORNING.replace(hour=15, minute=29, second=59)):
            quote = market.quote(instrument, moment)
            snapshot = quote.snapshot()
            for mode in MODES:
                decoded = decode_packet(encode_packet(snapshot, mode))
                assert decoded is not None, f"{instrument.symbol} in {mode} mode packs to a length Kite never sends"
                exact = (decoded.instrument_token, decoded.mode, decoded.price(decoded.last_price))
                assert exact == (instrument.instrument_token, mode, quote.last_price), instrument.symbol
                if mode != "ltp":
                    assert decoded.price(decoded.high) == quote.high, instrument.symbol


def test_a_day_path_of_the_longest_session_takes_a_few_kilobytes() -> None:
    market = model()
    universe = build_universe(5, DAY)
    crude = next(i for i in universe if i.exchange == "MCX" and i.instrument_type == "FUT")
    path = market.day_path(crude, DAY)
    assert path is not None and len(path) > 800  # MCX trades 9:00 to 23:30
    assert path.nbytes < 32 * 1024  # it was about 130 kB: every instrument's path for a day took 450 MB


def test_the_day_path_cache_stays_within_its_byte_bound_over_long_histories(monkeypatch: Any) -> None:
    from kite_simulator import market as market_module

    monkeypatch.setattr(market_module, "PATH_CACHE_BYTES", 2 * 1024 * 1024)
    market = model()
    infy = build_universe(5, DAY).by_symbol["NSE:INFY"]
    start = datetime(2022, 1, 1, tzinfo=IST)
    bars = market.day_bars(infy, start, start + timedelta(days=1000))  # ~700 trading days, ~8 MB of paths
    assert len(bars) > 600
    assert 1024 * 1024 < market.cached_path_bytes <= 2 * 1024 * 1024
    # The most recently used paths are the ones kept: today's quote is served without a rebuild.
    market.quote(infy, MORNING)
    kept = market.day_path(infy, DAY)
    assert market.day_path(infy, DAY) is kept


def test_running_totals_of_a_quote_are_the_minutes_so_far() -> None:
    market = model()
    nifty_fut = next(i for i in build_universe(5, DAY) if i.exchange == "NFO" and i.instrument_type == "FUT")
    path = market.day_path(nifty_fut, DAY)
    assert path is not None
    k = 120
    quote = market.quote(nifty_fut, path.session_start + timedelta(minutes=k, seconds=30))
    assert quote.volume >= int(path.volume[:k].sum())
    assert quote.high >= path.price(max(int(path.open[0]), int(path.high[:k].max())))
    assert quote.oi_day_high == int(path.oi[: k + 1].max()) and quote.oi_day_low == int(path.oi[: k + 1].min())

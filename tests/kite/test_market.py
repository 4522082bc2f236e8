"""The typed market-data adapter: rows from the official client as exact typed values, each
endpoint under its fixed rate class (quotes QUOTE, historical HISTORICAL, the dump OTHER)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kite_gateway.kite.limits import EndpointClass
from kite_gateway.kite.market import KiteMarket
from kite_wire.formats import IST
from tests.kite.recording_caller import caller

QUOTE_ROW = {
    "last_price": 1500.1,
    "volume": 12,
    "ohlc": {"open": 1490, "high": 1510.55, "low": 1480, "close": 1495.2},
    "depth": {"buy": [{"price": 1500.05, "quantity": 3, "orders": 1}], "sell": []},
    "timestamp": datetime(2026, 1, 2, 10, 30),
    "last_trade_time": "2026-01-02 10:29:59",
    "lower_circuit_limit": 1350.1,
}


async def test_a_quote_row_becomes_exact_decimals_counts_and_ist_times() -> None:
    kite, fake = caller({"quote": {"NSE:INFY": QUOTE_ROW}})
    (quote,) = (await KiteMarket(kite).quote(["NSE:INFY"])).values()
    assert (quote.last_price, quote.ohlc.high, quote.lower_circuit_limit) == (
        Decimal("1500.1"),
        Decimal("1510.55"),
        Decimal("1350.1"),
    )
    assert (quote.volume, quote.oi, quote.bids[0].price, quote.offers) == (12, 0, Decimal("1500.05"), ())
    assert quote.exchange_time == datetime(2026, 1, 2, 10, 30, tzinfo=IST)
    assert quote.last_trade_time == datetime(2026, 1, 2, 10, 29, 59, tzinfo=IST)
    assert fake.calls == [("read", EndpointClass.QUOTE, "quote", (["NSE:INFY"],), {})]


async def test_ltp_and_ohlc_are_quote_class_reads() -> None:
    kite, fake = caller({"ltp": {"NSE:INFY": {"last_price": 0.1}}, "ohlc": {"NSE:INFY": QUOTE_ROW}})
    market = KiteMarket(kite)
    assert await market.ltp(["NSE:INFY"]) == {"NSE:INFY": Decimal("0.1")}
    assert (await market.ohlc(["NSE:INFY"]))["NSE:INFY"].ohlc.close == Decimal("1495.2")
    assert [call[1] for call in fake.calls] == [EndpointClass.QUOTE, EndpointClass.QUOTE]


async def test_candles_are_historical_class_reads_with_oi_when_given() -> None:
    moment = datetime(2026, 1, 2, 9, 15, tzinfo=IST)
    rows = [{"date": moment, "open": 1, "high": 2.5, "low": 0.5, "close": 2, "volume": 7, "oi": 3}]
    kite, fake = caller({"historical_data": rows})
    (candle,) = await KiteMarket(kite).historical_data(408065, moment, moment, "minute", False, True)
    assert (candle.time, candle.ohlc.high, candle.volume, candle.oi) == (moment, Decimal("2.5"), 7, 3)
    assert fake.calls == [
        ("read", EndpointClass.HISTORICAL, "historical_data", (408065, moment, moment, "minute"),
         {"continuous": False, "oi": True}),
    ]  # fmt: skip


async def test_the_instruments_dump_is_an_other_class_read() -> None:
    kite, fake = caller({"instruments": []})
    assert await KiteMarket(kite).instruments() == []
    assert fake.calls[0][1] == EndpointClass.OTHER

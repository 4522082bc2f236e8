"""Quote batching and the LTP cache as units: calls sized by Kite's counts and the request line,
every symbol asked once, and last prices reused for five seconds."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from kite_gateway.core.market.quotes import (
    KITE_BATCH,
    LTP_TTL_SECONDS,
    MAX_QUERY_CHARS,
    LastPrices,
    batches,
    ohlc,
    quotes,
)
from kite_gateway.kite.market import Ohlc, OhlcQuote, Quote


def test_batches_respect_both_kites_count_and_the_request_line_length() -> None:
    symbols = [f"NFO:NIFTY26DEC{strike}CE" for strike in range(20000, 30000, 5)]
    split = batches(symbols, 500)
    assert [s for batch in split for s in batch] == symbols
    assert all(len(batch) <= 500 and len("&i=".join(batch)) < MAX_QUERY_CHARS * 1.5 for batch in split)
    assert len(batches(["NSE:INFY"] * 1200, 500)) == 3


def test_long_symbols_cut_a_batch_before_kites_count_does() -> None:
    long = [f"NSE:{'X' * 60}{i}" for i in range(200)]
    split = batches(long, 1000)
    assert len(split) > 1 and all(sum(len(s) + 3 for s in batch) <= MAX_QUERY_CHARS for batch in split)


class Kite:
    """A quote source that records its calls and prices every symbol by its length."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    async def quote(self, symbols: Sequence[str]) -> dict[str, Quote]:
        self.calls.append(("quote", list(symbols)))
        return {}

    async def ohlc(self, symbols: Sequence[str]) -> dict[str, OhlcQuote]:
        self.calls.append(("ohlc", list(symbols)))
        zero = Decimal(0)
        return {s: OhlcQuote(Decimal(len(s)), Ohlc(zero, zero, zero, zero)) for s in symbols if "NOSUCH" not in s}

    async def ltp(self, symbols: Sequence[str]) -> dict[str, Decimal]:
        self.calls.append(("ltp", list(symbols)))
        return {s: Decimal(len(s)) for s in symbols if "NOSUCH" not in s}


async def test_each_distinct_symbol_is_asked_once_in_calls_of_kites_size() -> None:
    kite = Kite()
    symbols = [f"X{i}" for i in range(1200)]  # short: only the count limits a batch
    await quotes(kite, symbols + symbols[:10])
    assert [len(batch) for _, batch in kite.calls] == [KITE_BATCH["quote"]] * 2 + [200]
    rows = await ohlc(kite, ["NSE:INFY", "NSE:NOSUCH", "NSE:INFY"])
    assert kite.calls[-1] == ("ohlc", ["NSE:INFY", "NSE:NOSUCH"]) and list(rows) == ["NSE:INFY"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_last_price_is_reused_until_it_is_five_seconds_old() -> None:
    kite, clock = Kite(), Clock()
    prices = LastPrices(clock)
    assert await prices.get(kite, ["NSE:INFY", "NSE:NOSUCH"]) == {"NSE:INFY": Decimal(8)}
    clock.now += LTP_TTL_SECONDS - 0.1
    await prices.get(kite, ["NSE:INFY", "NSE:TCS"])
    assert kite.calls == [("ltp", ["NSE:INFY", "NSE:NOSUCH"]), ("ltp", ["NSE:TCS"])]
    clock.now += 0.1
    await prices.get(kite, ["NSE:INFY", "NSE:TCS"])
    assert kite.calls[-1] == ("ltp", ["NSE:INFY"])  # INFY is five seconds old; TCS is not

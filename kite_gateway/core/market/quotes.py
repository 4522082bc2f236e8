"""Kite's quote endpoints in bulk: symbols batched by Kite's per-call counts and the length of the
request line, and last prices cached for LTP_TTL_SECONDS (shared by GetLtp and by the risk checks,
which value market orders at the last price)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Protocol, TypeVar
from urllib.parse import quote_plus

from kite_gateway.kite import OhlcQuote, Quote
from kite_wire import QUOTE_BATCH

KITE_BATCH = QUOTE_BATCH
# Kite's edge refuses long request lines (an HTML 400, pykiteconnect#104): keep each call's `i=` list short.
MAX_QUERY_CHARS = 6000
LTP_TTL_SECONDS = 5.0

Row = TypeVar("Row")


class QuoteSource(Protocol):
    """Kite's three quote endpoints, one call each (kite_gateway.kite.market.KiteMarket)."""

    async def quote(self, symbols: Sequence[str]) -> dict[str, Quote]: ...

    async def ohlc(self, symbols: Sequence[str]) -> dict[str, OhlcQuote]: ...

    async def ltp(self, symbols: Sequence[str]) -> dict[str, Decimal]: ...


def batches(symbols: list[str], most: int) -> list[list[str]]:
    """Symbols in calls of at most `most` each whose encoded `i=` query stays under MAX_QUERY_CHARS."""
    out: list[list[str]] = [[]]
    length = 0
    for symbol in symbols:
        cost = len(quote_plus(symbol)) + 3  # "&i=" per instrument
        if out[-1] and (len(out[-1]) == most or length + cost > MAX_QUERY_CHARS):
            out.append([])
            length = 0
        out[-1].append(symbol)
        length += cost
    return [batch for batch in out if batch]


async def in_batches(
    call: Callable[[list[str]], Awaitable[dict[str, Row]]], symbols: Sequence[str], most: int
) -> dict[str, Row]:
    """`call`'s rows by symbol for every distinct symbol, in as few calls of at most `most` as Kite allows."""
    rows: dict[str, Row] = {}
    for batch in batches(list(dict.fromkeys(symbols)), most):
        rows.update(await call(batch))
    return rows


async def quotes(source: QuoteSource, symbols: Sequence[str]) -> dict[str, Quote]:
    return await in_batches(source.quote, symbols, KITE_BATCH["quote"])


async def ohlc(source: QuoteSource, symbols: Sequence[str]) -> dict[str, OhlcQuote]:
    return await in_batches(source.ohlc, symbols, KITE_BATCH["ohlc"])


class LastPrices:
    """Last prices as Kite gave them, each reused for LTP_TTL_SECONDS."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache: dict[str, tuple[float, Decimal]] = {}
        self._clock = clock

    async def get(self, source: QuoteSource, symbols: Sequence[str]) -> dict[str, Decimal]:
        """symbol -> last price, for the symbols Kite knows; only stale ones are fetched."""
        now = self._clock()
        stale = [s for s in symbols if now - self._cache.get(s, (-LTP_TTL_SECONDS, Decimal(0)))[0] >= LTP_TTL_SECONDS]
        if stale:
            fetched = await in_batches(source.ltp, stale, KITE_BATCH["ltp"])
            now = self._clock()
            self._cache.update({symbol: (now, price) for symbol, price in fetched.items()})
        return {s: self._cache[s][1] for s in symbols if s in self._cache}

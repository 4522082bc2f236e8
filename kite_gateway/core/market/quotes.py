"""Kite's quote endpoints in bulk: symbols batched by Kite's per-call counts and the length of the
request line, and last prices cached for LTP_TTL_SECONDS (shared by GetLtp and by the risk checks,
which value market orders at the last price)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote_plus

from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass
from kite_wire.limits import QUOTE_BATCH

KITE_BATCH = QUOTE_BATCH
# Kite's edge refuses long request lines (an HTML 400, pykiteconnect#104): keep each call's `i=` list short.
MAX_QUERY_CHARS = 6000
LTP_TTL_SECONDS = 5.0


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


async def fetch(kite: KiteCaller, method: str, symbols: list[str]) -> dict[str, Any]:
    """Kite's rows of `method` ("quote", "ohlc" or "ltp") by symbol, in as few calls as Kite allows."""
    rows: dict[str, Any] = {}
    for batch in batches(list(dict.fromkeys(symbols)), KITE_BATCH[method]):
        rows.update(await kite.read(EndpointClass.QUOTE, method, batch))
    return rows


class LastPrices:
    """Last prices as Kite gave them, each reused for LTP_TTL_SECONDS."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, Any]] = {}

    async def get(self, kite: KiteCaller, symbols: list[str]) -> dict[str, Any]:
        """symbol -> last price, for the symbols Kite knows; only stale ones are fetched."""
        now = time.monotonic()
        stale = [s for s in symbols if now - self._cache.get(s, (-LTP_TTL_SECONDS, None))[0] >= LTP_TTL_SECONDS]
        if stale:
            fetched = await fetch(kite, "ltp", stale)
            now = time.monotonic()
            self._cache.update({symbol: (now, row.get("last_price")) for symbol, row in fetched.items()})
        return {s: self._cache[s][1] for s in symbols if s in self._cache}

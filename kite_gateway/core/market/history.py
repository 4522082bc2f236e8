"""Historical candles over any range: split into Kite's per-interval maximum spans, fetched in
order, and stitched without duplicates at the seams."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from kite_gateway.errors import invalid
from kite_gateway.kite import Candle
from kite_wire import HISTORICAL_SPAN_DAYS

MAX_SPAN_DAYS = HISTORICAL_SPAN_DAYS  # Kite's interval names and the longest span one call may cover

# The most Kite calls one request may take (3 a second): 6.5 years of minute candles, 200 of days.
MAX_CALLS = 40


class CandleSource(Protocol):
    """Kite's historical endpoint, one window a call (kite_gateway.kite.market.KiteMarket)."""

    async def historical_data(
        self, instrument_token: int, start: datetime, end: datetime, interval: str, continuous: bool, oi: bool
    ) -> list[Candle]: ...


def windows(start: datetime, end: datetime, interval: str, most: int | None = None) -> list[tuple[datetime, datetime]]:
    """Consecutive [from, to] windows covering start..end, none longer than Kite allows (only the
    first `most` of them when given)."""
    span = timedelta(days=MAX_SPAN_DAYS[interval])
    out: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor <= end and (most is None or len(out) < most):
        stop = end if end - cursor < span else cursor + span - timedelta(seconds=1)  # never past `end`
        out.append((cursor, stop))
        if stop == end:
            break
        cursor = stop + timedelta(seconds=1)
    return out


def check_range(start: datetime, end: datetime, interval: str) -> None:
    """INVALID_ARGUMENT for a range that runs backwards or takes more than MAX_CALLS windows."""
    if end < start:
        raise invalid("end_time", "must not be before start_time")
    if len(windows(start, end, interval, most=MAX_CALLS + 1)) > MAX_CALLS:
        days = MAX_CALLS * MAX_SPAN_DAYS[interval]
        raise invalid("end_time", f"a range of at most {days} days of {interval} candles per call")


async def candles(
    source: CandleSource, token: int, interval: str, start: datetime, end: datetime, continuous: bool, oi: bool
) -> list[Candle]:
    """Every candle of start..end (checked by check_range first), oldest first, one per time."""
    check_range(start, end, interval)
    stitched: dict[datetime, Candle] = {}
    for window_start, window_end in windows(start, end, interval):
        for candle in await source.historical_data(token, window_start, window_end, interval, continuous, oi):
            stitched.setdefault(candle.time, candle)
    return [stitched[moment] for moment in sorted(stitched)]

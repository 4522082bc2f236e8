"""Historical candles over any range: split into Kite's per-interval maximum spans, fetched in
order, and stitched without duplicates at the seams."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.limits import EndpointClass
from kite_wire.limits import HISTORICAL_SPAN_DAYS

MAX_SPAN_DAYS = HISTORICAL_SPAN_DAYS  # Kite's interval names and the longest span one call may cover

# The most Kite calls one request may take (3 a second): 6.5 years of minute candles, 200 of days.
MAX_CALLS = 40


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


async def candles(
    kite: KiteCaller, token: int, interval: str, start: datetime, end: datetime, continuous: bool, oi: bool
) -> list[dict[str, Any]]:
    stitched: dict[datetime, dict[str, Any]] = {}
    for window_start, window_end in windows(start, end, interval):
        rows = await kite.read(
            EndpointClass.HISTORICAL,
            "historical_data",
            token,
            window_start,
            window_end,
            interval,
            continuous=continuous,
            oi=oi,
        )
        for row in rows:
            stitched.setdefault(row["date"], row)
    return [stitched[moment] for moment in sorted(stitched)]

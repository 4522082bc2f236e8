"""Historical windows as a unit: a range split into Kite's per-interval spans with no gap and no
overlap, ranges Kite would need too many calls for refused, and candles stitched without duplicates."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kite_gateway.core.market.history import MAX_CALLS, MAX_SPAN_DAYS, candles, check_range, windows
from kite_gateway.errors import GatewayError
from kite_gateway.kite.market import Candle, Ohlc

START = datetime(2026, 1, 1, 9, 15)
SECOND = timedelta(seconds=1)


def test_a_range_within_one_span_is_one_window() -> None:
    assert windows(START, START + timedelta(days=10), "minute") == [(START, START + timedelta(days=10))]


@pytest.mark.parametrize("interval", sorted(MAX_SPAN_DAYS))
def test_windows_cover_the_range_back_to_back_none_longer_than_kite_allows(interval: str) -> None:
    end = START + timedelta(days=MAX_SPAN_DAYS[interval] * 3 + 7, hours=5)
    split = windows(START, end, interval)
    assert split[0][0] == START and split[-1][1] == end
    assert all(later[0] == earlier[1] + SECOND for earlier, later in itertools.pairwise(split))
    assert all(stop - start < timedelta(days=MAX_SPAN_DAYS[interval]) for start, stop in split)
    assert len(split) == 4


def test_only_the_first_windows_asked_for_are_made() -> None:
    assert len(windows(START, START + timedelta(days=6000), "minute", most=3)) == 3


def test_a_range_of_exactly_the_most_calls_passes_and_one_second_more_is_refused() -> None:
    longest = START + timedelta(days=MAX_SPAN_DAYS["day"] * MAX_CALLS) - SECOND
    check_range(START, longest, "day")
    with pytest.raises(GatewayError) as caught:
        check_range(START, longest + SECOND, "day")
    ((field, problem),) = caught.value.field_violations
    assert field == "end_time" and f"{MAX_CALLS * MAX_SPAN_DAYS['day']} days" in problem


def test_a_range_that_runs_backwards_is_refused() -> None:
    with pytest.raises(GatewayError, match="must not be before start_time"):
        check_range(START, START - SECOND, "minute")


def candle(minute: int, close: int) -> Candle:
    price = Decimal(close)
    return Candle(datetime(2026, 1, 1, 9, minute, tzinfo=UTC), Ohlc(price, price, price, price), 1, 0)


class Windows:
    """A historical source answering each window with its candles, the seam's candle in both."""

    def __init__(self) -> None:
        self.calls: list[tuple[datetime, datetime]] = []

    async def historical_data(
        self, instrument_token: int, start: datetime, end: datetime, interval: str, continuous: bool, oi: bool
    ) -> list[Candle]:
        self.calls.append((start, end))
        if len(self.calls) == 1:
            return [candle(16, 1), candle(15, 0), candle(17, 2)]
        return [candle(17, 99), candle(18, 3)]


async def test_candles_over_many_windows_are_stitched_oldest_first_without_the_seams_duplicate() -> None:
    source = Windows()
    got = await candles(source, 408065, "minute", START, START + timedelta(days=100), False, False)
    assert len(source.calls) == 2
    assert [(c.time.minute, c.ohlc.close) for c in got] == [
        (m, Decimal(c)) for m, c in ((15, 0), (16, 1), (17, 2), (18, 3))
    ]


async def test_candles_for_a_refused_range_ask_kite_nothing() -> None:
    source = Windows()
    with pytest.raises(GatewayError):
        await candles(source, 408065, "minute", START, START + timedelta(days=60 * 41), False, False)
    assert source.calls == []

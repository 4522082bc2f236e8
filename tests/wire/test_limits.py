"""Kite's limits as data, and which rate class a REST call counts in."""

from __future__ import annotations

import pytest

from kite_wire.limits import (
    CONNECTIONS_PER_API_KEY,
    HISTORICAL_SPAN_DAYS,
    INSTRUMENTS_PER_CONNECTION,
    INTERVAL_MINUTES,
    ORDERS_PER_DAY,
    ORDERS_PER_MINUTE,
    ORDERS_PER_SECOND,
    QUOTE_BATCH,
    QUOTE_BATCH_BY_PATH,
    RATES_PER_SECOND,
    RateClass,
    rate_class,
)


def test_the_ticker_allows_3000_instruments_on_each_of_3_connections_per_api_key() -> None:
    assert (INSTRUMENTS_PER_CONNECTION, CONNECTIONS_PER_API_KEY) == (3000, 3)


def test_the_rate_table_is_kites_quote_1_historical_3_orders_and_others_10_per_second() -> None:
    assert dict(RATES_PER_SECOND) == {"quote": 1, "historical": 3, "orders": 10, "other": 10}


def test_a_user_may_place_10_orders_a_second_400_a_minute_and_5000_a_day() -> None:
    assert (ORDERS_PER_SECOND, ORDERS_PER_MINUTE, ORDERS_PER_DAY) == (10, 400, 5000)


def test_every_intraday_interval_has_a_historical_span_and_day_spans_2000_days() -> None:
    assert set(INTERVAL_MINUTES) < set(HISTORICAL_SPAN_DAYS) and HISTORICAL_SPAN_DAYS["day"] == 2000
    assert HISTORICAL_SPAN_DAYS["minute"] == 60 and HISTORICAL_SPAN_DAYS["60minute"] == 400


def test_quote_batch_sizes_are_the_same_by_endpoint_name_and_by_path() -> None:
    assert dict(QUOTE_BATCH) == {"quote": 500, "ohlc": 1000, "ltp": 1000}
    assert {path.removeprefix("/quote").removeprefix("/") or "quote": n for path, n in QUOTE_BATCH_BY_PATH.items()} == (
        dict(QUOTE_BATCH)
    )


def test_the_tables_cannot_be_changed_by_a_caller() -> None:
    with pytest.raises(TypeError):
        HISTORICAL_SPAN_DAYS["minute"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/quote", RateClass.QUOTE),
        ("GET", "/quote/ltp", RateClass.QUOTE),
        ("GET", "/instruments/historical/256265/minute", RateClass.HISTORICAL),
        ("POST", "/orders/regular", RateClass.ORDERS),
        ("PUT", "/orders/regular/1", RateClass.ORDERS),
        ("DELETE", "/orders/regular/1", RateClass.ORDERS),
        ("GET", "/orders", RateClass.OTHER),
        ("POST", "/gtt/triggers", RateClass.OTHER),
        ("GET", "/instruments", RateClass.OTHER),
    ],
)
def test_a_rest_call_counts_in_its_endpoint_class(method: str, path: str, expected: RateClass) -> None:
    assert rate_class(method, path) is expected

"""Kite's limits as data: ticker connections and instruments, historical spans per interval, quote
batch sizes, and the REST rate table per endpoint class (requests per second per api_key)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

# The ticker: instruments one WebSocket connection may subscribe, connections one api_key may hold.
INSTRUMENTS_PER_CONNECTION = 3000
CONNECTIONS_PER_API_KEY = 3

# Kite's RMS caps on the orders one user places (every variety and segment; not modifications, cancellations
# or GTTs).
ORDERS_PER_SECOND = 10
ORDERS_PER_MINUTE = 400
ORDERS_PER_DAY = 5000

# Historical candles: the longest span (in days) one call may cover, per interval name.
HISTORICAL_SPAN_DAYS: Mapping[str, int] = MappingProxyType(
    {
        "minute": 60,
        "3minute": 100,
        "5minute": 100,
        "10minute": 100,
        "15minute": 200,
        "30minute": 200,
        "60minute": 400,
        "day": 2000,
    }
)
# The intraday intervals and their length in minutes (`day` is a trading day, not a fixed length).
INTERVAL_MINUTES: Mapping[str, int] = MappingProxyType(
    {"minute": 1, "3minute": 3, "5minute": 5, "10minute": 10, "15minute": 15, "30minute": 30, "60minute": 60}
)

# Instruments one call of a quote endpoint may ask for, by endpoint (`/quote`, `/quote/ohlc`, `/quote/ltp`).
QUOTE_BATCH: Mapping[str, int] = MappingProxyType({"quote": 500, "ohlc": 1000, "ltp": 1000})
QUOTE_BATCH_BY_PATH: Mapping[str, int] = MappingProxyType({"/quote": 500, "/quote/ohlc": 1000, "/quote/ltp": 1000})


class RateClass(StrEnum):
    """The endpoint classes of Kite's rate table."""

    QUOTE = "quote"
    HISTORICAL = "historical"
    ORDERS = "orders"
    OTHER = "other"


# Requests per second Kite allows per api_key, by endpoint class (`/gtt` is "all other").
RATES_PER_SECOND: Mapping[RateClass, int] = MappingProxyType(
    {RateClass.QUOTE: 1, RateClass.HISTORICAL: 3, RateClass.ORDERS: 10, RateClass.OTHER: 10}
)


def rate_class(method: str, path: str) -> RateClass:
    """The class a REST call counts in: quotes, historical candles, order writes, everything else."""
    if path.startswith("/quote"):
        return RateClass.QUOTE
    if path.startswith("/instruments/historical"):
        return RateClass.HISTORICAL
    if path.startswith("/orders") and method in ("POST", "PUT", "DELETE"):
        return RateClass.ORDERS
    return RateClass.OTHER

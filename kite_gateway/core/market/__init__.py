"""Market data: the instrument master, quotes with batching and caching, historical candles, the
exchanges' trading calendar."""

from kite_gateway.core.market.exchange_calendar import MAX_CALENDAR_DAYS, market_status, trading_calendar
from kite_gateway.core.market.instruments import InstrumentMaster, InstrumentRef, Listing
from kite_gateway.core.market.master_schedule import RefreshSchedule
from kite_gateway.core.market.quotes import LastPrices

__all__ = [
    "MAX_CALENDAR_DAYS",
    "InstrumentMaster",
    "InstrumentRef",
    "LastPrices",
    "Listing",
    "RefreshSchedule",
    "market_status",
    "trading_calendar",
]

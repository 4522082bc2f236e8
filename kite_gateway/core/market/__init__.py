"""Market data: the instrument master, quotes with batching and caching, historical candles."""

from kite_gateway.core.market.instruments import InstrumentMaster, InstrumentRef, Listing
from kite_gateway.core.market.master_schedule import RefreshSchedule
from kite_gateway.core.market.quotes import LastPrices

__all__ = ["InstrumentMaster", "InstrumentRef", "LastPrices", "Listing", "RefreshSchedule"]

"""Instrument rows for the order unit tests."""

from __future__ import annotations

from decimal import Decimal

from kite_gateway.core.market.instruments import Listing


def listing(
    tradingsymbol: str = "INFY",
    *,
    exchange: str = "NSE",
    segment: str = "NSE",
    instrument_type: str = "EQ",
    lot_size: int = 1,
    tick_size: str = "0.05",
) -> Listing:
    return Listing(
        instrument_token=408065, exchange_token=1594, tradingsymbol=tradingsymbol, name=tradingsymbol,
        exchange=exchange, segment=segment, instrument_type=instrument_type, expiry=None, strike=Decimal(0),
        tick_size=Decimal(tick_size), lot_size=lot_size, last_price=Decimal(0),
    )  # fmt: skip


def future(lot_size: int = 75) -> Listing:
    return listing("NIFTY26DECFUT", exchange="NFO", segment="NFO-FUT", instrument_type="FUT", lot_size=lot_size)

"""Reports over the gateway's record of what happened: the fill log, the charges of each executed
order, and the lots FIFO matching makes of them (tradebook, P&L statement, tax P&L, daily report)."""

from kite_gateway.core.reports.lots import Book, ClosedLot, OpenLot, match, position_key
from kite_gateway.core.reports.model import (
    NO_CHARGES,
    ZERO,
    Charges,
    ChargeSource,
    Fill,
    FillGap,
    OrderCharges,
    Segment,
    Side,
    segment_of,
)

__all__ = [
    "NO_CHARGES",
    "ZERO",
    "Book",
    "ChargeSource",
    "Charges",
    "ClosedLot",
    "Fill",
    "FillGap",
    "OpenLot",
    "OrderCharges",
    "Segment",
    "Side",
    "match",
    "position_key",
    "segment_of",
]

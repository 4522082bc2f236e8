"""The reports' record types (fills, itemised charges, gaps, segments): the fill log's own records
(kite_gateway/storage/fill_records.py), named here for the report use cases."""

from kite_gateway.storage import (
    COMMODITY_EXCHANGES,
    CURRENCY_EXCHANGES,
    EQUITY_EXCHANGES,
    NO_CHARGES,
    OPTION_TYPES,
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
    "COMMODITY_EXCHANGES",
    "CURRENCY_EXCHANGES",
    "EQUITY_EXCHANGES",
    "NO_CHARGES",
    "OPTION_TYPES",
    "ZERO",
    "ChargeSource",
    "Charges",
    "Fill",
    "FillGap",
    "OrderCharges",
    "Segment",
    "Side",
    "segment_of",
]

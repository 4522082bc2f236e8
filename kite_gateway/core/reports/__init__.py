"""Reports over the gateway's record of what happened: the fill log (kept by FillRecorder), the
charges of each executed order, the lots FIFO matching makes of them, and the report use cases
(Reports: tradebook, P&L statement, tax P&L, daily report)."""

from kite_gateway.core.reports.charges import dp_charges, estimate
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
from kite_gateway.core.reports.recorder import FillRecorder, NoteOrder, TradeSource
from kite_gateway.core.reports.rules_used import RuleUsed, rules_used
from kite_gateway.core.reports.service import (
    DailyAccount,
    DailyReport,
    DayRecords,
    Reports,
    Scope,
    Statement,
    TaxReport,
    Tradebook,
    check_day,
    check_range,
)
from kite_gateway.core.reports.statements import AccountPnl, DayPnl, PnlLine, PnlStatement, pnl_statement
from kite_gateway.core.reports.tax import Bucket, BucketPnl, TaxLot, TaxPnl, tax_pnl

__all__ = [
    "NO_CHARGES",
    "ZERO",
    "AccountPnl",
    "Book",
    "Bucket",
    "BucketPnl",
    "ChargeSource",
    "Charges",
    "ClosedLot",
    "DailyAccount",
    "DailyReport",
    "DayPnl",
    "DayRecords",
    "Fill",
    "FillGap",
    "FillRecorder",
    "NoteOrder",
    "OpenLot",
    "OrderCharges",
    "PnlLine",
    "PnlStatement",
    "Reports",
    "RuleUsed",
    "Scope",
    "Segment",
    "Side",
    "Statement",
    "TaxLot",
    "TaxPnl",
    "TaxReport",
    "TradeSource",
    "Tradebook",
    "check_day",
    "check_range",
    "dp_charges",
    "estimate",
    "match",
    "pnl_statement",
    "position_key",
    "rules_used",
    "segment_of",
    "tax_pnl",
]

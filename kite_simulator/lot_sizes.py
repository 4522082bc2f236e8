"""Exchange lot sizes of the derivatives the simulator lists, as data with where each comes from.

Units per lot for NFO/BFO contracts (orders are in units, a multiple of the lot). The exchanges
review lot sizes every six months; a revision applies to contracts listed after it, so the values
here are those of contracts expiring in 2026 and later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class LotSize:
    """One underlying's market lot, the day the revision that set it took effect, and its source."""

    units: int
    since: date
    source: str


_NSE_INDEX_REVIEW_2025_09 = (
    "NSE F&O circular of 2025-09-30 (revision effective 2025-10-28 EOD, first for the January 2026 expiries; "
    "average closes of September 2025), as reported by NDTV Profit and Ventura Securities"
)
_BSE_INDEX_REVIEW_2024_10 = (
    "BSE notice on the SEBI index-derivatives framework (SEBI/HO/MRD/TPD-1/P/CIR/2024/132), effective 2024-11-20, "
    "as reported by share.market and Rupeezy; no later BSE revision found"
)
_NSE_STOCK_REVIEW_2025_10 = (
    "NSE revision of stock derivative lots effective 2025-10-29 (Annexure 1: revised downwards from the November "
    "2025 expiries), as reported on TradingQnA"
)
_NSE_STOCK_UNCHANGED = (
    "NSE lot in force before the 2025-10-29 stock review, which left 180 of 208 stocks unchanged (TradingQnA); "
    "not individually confirmed against the NSE contract file"
)

# Index derivatives: the underlying's F&O name -> its lot.
INDEX_LOTS: dict[str, LotSize] = {
    "NIFTY": LotSize(65, date(2025, 12, 31), _NSE_INDEX_REVIEW_2025_09),  # was 75
    "BANKNIFTY": LotSize(30, date(2025, 12, 31), _NSE_INDEX_REVIEW_2025_09),  # was 35
    "FINNIFTY": LotSize(60, date(2025, 12, 31), _NSE_INDEX_REVIEW_2025_09),  # was 65
    "MIDCPNIFTY": LotSize(120, date(2025, 12, 31), _NSE_INDEX_REVIEW_2025_09),  # was 140
    "NIFTYNXT50": LotSize(25, date(2025, 12, 31), _NSE_INDEX_REVIEW_2025_09),  # unchanged
    "SENSEX": LotSize(20, date(2024, 11, 20), _BSE_INDEX_REVIEW_2024_10),  # was 10
}

_REVIEWED = date(2025, 10, 29)

# Stock derivatives on NSE: the stock's symbol -> its lot.
STOCK_LOTS: dict[str, LotSize] = {
    "HDFCBANK": LotSize(550, _REVIEWED, _NSE_STOCK_REVIEW_2025_10),  # was 1100
    **{
        symbol: LotSize(units, _REVIEWED, _NSE_STOCK_UNCHANGED)
        for symbol, units in (
            ("INFY", 400),
            ("RELIANCE", 500),
            ("TCS", 175),
            ("ICICIBANK", 700),
            ("SBIN", 750),
            ("ITC", 1600),
            ("AXISBANK", 625),
            ("KOTAKBANK", 400),
            ("LT", 175),
            ("BHARTIARTL", 475),
            ("HINDUNILVR", 300),
            ("WIPRO", 3000),
            ("MARUTI", 50),
            ("TATAMOTORS", 800),
            ("TATASTEEL", 5500),
            ("SUNPHARMA", 350),
            ("ASIANPAINT", 250),
            ("BAJFINANCE", 750),
            ("NTPC", 1500),
            ("ONGC", 2250),
            ("POWERGRID", 1900),
            ("COALINDIA", 1350),
            ("ADANIENT", 300),
            ("IRCTC", 875),
        )
    },
}


def index_lot(name: str) -> int:
    """The lot of an index's derivatives (0: the index has none)."""
    lot = INDEX_LOTS.get(name)
    return lot.units if lot else 0


def stock_lot(symbol: str) -> int:
    """The lot of a stock's derivatives (0: the stock is not in F&O)."""
    lot = STOCK_LOTS.get(symbol)
    return lot.units if lot else 0

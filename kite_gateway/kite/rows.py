"""Reading the official client's JSON rows into typed values: exact decimals (floats by their
shortest repr), counts, and Kite's IST wall-clock times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from kite_wire import IST, kite_decimal

Row = Mapping[str, Any]


def decimal(value: Any) -> Decimal:
    """A number from Kite's JSON as the exact decimal it was written as (0 when absent)."""
    return kite_decimal(value)


def count(value: Any) -> int:
    """A quantity from Kite's JSON (0 when absent)."""
    return int(value or 0)


def text(value: Any) -> str:
    return str(value or "")


def wall_clock(value: Any) -> datetime | None:
    """Kite's time (a datetime, naive meaning IST, or `yyyy-mm-dd[ hh:mm:ss]` text) as an aware
    datetime; None when absent or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=IST)
    if isinstance(value, str) and len(value) in (10, 19):
        try:
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S" if len(value) == 19 else "%Y-%m-%d").replace(tzinfo=IST)
        except ValueError:
            return None
    return None


def symbol(row: Row) -> str:
    """EXCHANGE:TRADINGSYMBOL of a row."""
    return f"{row.get('exchange', '')}:{row.get('tradingsymbol', '')}"

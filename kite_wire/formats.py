"""How Kite writes times and numbers in its JSON."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

IST = timezone(timedelta(hours=5, minutes=30), "IST")


def kite_timestamp(moment: datetime) -> str:
    """Kite's JSON timestamp: IST wall-clock time, `yyyy-mm-dd hh:mm:ss`, no zone."""
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


def kite_candle_timestamp(moment: datetime) -> str:
    """Kite's historical candle timestamp: `2017-12-15T09:15:00+0530`."""
    return moment.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S%z")


def parse_kite_timestamp(text: str) -> datetime:
    """Parse `yyyy-mm-dd hh:mm:ss` (or a bare date) as IST wall-clock time."""
    text = text.strip()
    layout = "%Y-%m-%d" if len(text) == 10 else "%Y-%m-%d %H:%M:%S"
    return datetime.strptime(text, layout).replace(tzinfo=IST)


def kite_date(day: date | None) -> str:
    """Kite's date: `yyyy-mm-dd`, or empty for none (as in the instruments dump)."""
    return day.isoformat() if day else ""


def kite_number(value: Decimal) -> int | float:
    """A decimal as Kite's JSON (and the official client) writes it: an integer when whole, otherwise
    the shortest float."""
    return int(value) if value == value.to_integral_value() else float(value)


def kite_decimal(value: object) -> Decimal:
    """A number from Kite's JSON or CSV as the exact decimal it was written as (floats by their
    shortest repr); zero for none or empty."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str):
        return Decimal(value)
    raise TypeError(f"not a number: {value!r}")

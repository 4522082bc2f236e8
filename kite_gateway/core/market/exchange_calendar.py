"""The exchanges' trading calendar as the API offers it: each exchange's status at a moment (open
or not, the current or next session, why it is closed) and the trading days of a date range.
Validated here: known exchanges only, ranges of at most MAX_CALENDAR_DAYS."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from kite_gateway.errors import invalid
from kite_wire import IST, TRADING_CALENDAR, MarketStatus, TradingCalendar, TradingDay

MAX_CALENDAR_DAYS = 731  # two years of days in one answer


def _exchanges(calendar: TradingCalendar, wanted: Sequence[str], field: str) -> list[str]:
    known = calendar.exchanges()
    for i, exchange in enumerate(wanted):
        if exchange not in known:
            raise invalid(f"{field}[{i}]", f"{exchange!r} has no trading sessions; one of {', '.join(known)}")
    return list(dict.fromkeys(wanted)) or known


def market_status(
    wanted: Sequence[str], at: datetime, calendar: TradingCalendar = TRADING_CALENDAR, field: str = "exchanges"
) -> list[MarketStatus]:
    """The status of each wanted exchange (every exchange when none is named) at `at`."""
    try:
        at.astimezone(IST)
    except OverflowError:  # the last hours of 9999 (UTC) are in the year 10000 in IST
        raise invalid("at", "out of range: a moment before 9999-12-31T18:30:00Z (the last day in IST)") from None
    return [calendar.status(exchange, at) for exchange in _exchanges(calendar, wanted, field)]


def trading_calendar(
    wanted: Sequence[str],
    first: date,
    last: date,
    calendar: TradingCalendar = TRADING_CALENDAR,
    field: str = "exchanges",
) -> dict[str, list[TradingDay]]:
    """Every day from `first` to `last` (inclusive) of each wanted exchange, trading or not."""
    if last < first:
        raise invalid("end_date", "must not be before start_date")
    if (last - first).days + 1 > MAX_CALENDAR_DAYS:
        latest = first + timedelta(days=MAX_CALENDAR_DAYS - 1)
        raise invalid("end_date", f"at most {MAX_CALENDAR_DAYS} days in all: {latest.isoformat()} at the latest")
    return {exchange: calendar.days(exchange, first, last) for exchange in _exchanges(calendar, wanted, field)}

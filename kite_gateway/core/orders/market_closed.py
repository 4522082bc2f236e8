"""Kite's "markets are closed" refusal of an order, told with the trading calendar: when the order's
exchange opens next, so the caller can queue it (AMO) or wait, instead of guessing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from kite_gateway.errors import GatewayError
from kite_wire import IST, TRADING_CALENDAR, TradingCalendar


def with_next_session(
    error: GatewayError, exchange: str, now: datetime, calendar: TradingCalendar = TRADING_CALENDAR
) -> GatewayError:
    """`error` (reason MARKET_CLOSED) with the exchange's next session in its message and metadata
    (`next_session_opens`, ISO 8601 in IST); unchanged for an exchange the calendar does not know."""
    if exchange not in calendar.exchanges():
        return error
    status = calendar.status(exchange, now)
    if status.next is None:
        return error
    opens = status.next.opens.astimezone(IST)
    closed = f" ({status.today.reason})" if status.today.reason and not status.today.is_trading_day else ""
    message = f"{error.message} {exchange} is closed{closed}; it opens next at {opens:%Y-%m-%d %H:%M} IST."
    return replace(error, message=message, metadata={**error.metadata, "next_session_opens": opens.isoformat()})

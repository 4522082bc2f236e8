"""Exchange trading sessions (IST) as the simulator and the gateway use them: the trading calendar's
(weekends, exchange holidays, special sessions, MCX's evening hours), or around the clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from kite_wire.formats import IST
from kite_wire.trading_calendar import TRADING_CALENDAR, TradingCalendar


class MarketHours:
    """When each exchange trades. With `always_open`, every exchange trades around the clock
    every day (paper trading at any hour); otherwise the calendar's sessions."""

    def __init__(self, always_open: bool = False, calendar: TradingCalendar = TRADING_CALENDAR) -> None:
        self.always_open = always_open
        self.calendar = calendar

    def session(self, exchange: str, day: date) -> tuple[datetime, datetime] | None:
        """The session's start and end on `day`, or None if the exchange does not trade then."""
        if self.always_open:
            start = datetime.combine(day, time(0, 0), IST)
            return start, start + timedelta(days=1)
        trading = self.calendar.trading_day(exchange, day)
        if trading.opens is None or trading.closes is None:
            return None
        return trading.opens, trading.closes

    def is_open(self, exchange: str, moment: datetime) -> bool:
        window = self.session(exchange, moment.astimezone(IST).date())
        return window is not None and window[0] <= moment < window[1]

    def trading_days(self, exchange: str, first: date, last: date) -> list[date]:
        days, day = [], first
        while day <= last:
            if self.session(exchange, day) is not None:
                days.append(day)
            day += timedelta(days=1)
        return days

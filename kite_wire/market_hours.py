"""Exchange trading sessions (IST, Monday to Friday; exchange holidays are not modelled)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from kite_wire.formats import IST

# Regular sessions in IST (Monday to Friday).
SESSIONS: dict[str, tuple[time, time]] = {
    "NSE": (time(9, 15), time(15, 30)),
    "BSE": (time(9, 15), time(15, 30)),
    "NFO": (time(9, 15), time(15, 30)),
    "BFO": (time(9, 15), time(15, 30)),
    "CDS": (time(9, 0), time(17, 0)),
    "BCD": (time(9, 0), time(17, 0)),
    "MCX": (time(9, 0), time(23, 30)),
}


class MarketHours:
    """When each exchange trades. With `always_open`, every exchange trades around the clock
    every day (paper trading at any hour); otherwise the regular sessions, weekdays only."""

    def __init__(self, always_open: bool = False) -> None:
        self.always_open = always_open

    def session(self, exchange: str, day: date) -> tuple[datetime, datetime] | None:
        """The session's start and end on `day`, or None if the exchange does not trade then."""
        if self.always_open:
            start = datetime.combine(day, time(0, 0), IST)
            return start, start + timedelta(days=1)
        if day.weekday() >= 5:
            return None
        opens, closes = SESSIONS[exchange]
        return datetime.combine(day, opens, IST), datetime.combine(day, closes, IST)

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

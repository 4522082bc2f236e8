"""When each exchange trades, day by day: weekends, the exchange holidays and special sessions of
`kite_wire.exchange_holidays`, MCX's split day (a morning session to 17:00 and an evening session to
23:30 while the US keeps daylight saving time, 23:55 otherwise) and the currency segment's hours.

A day outside the years the data covers is treated as a plain weekday or weekend (and says so)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from kite_wire.exchange_holidays import (
    COMMODITY,
    COVERED_YEARS,
    EQUITY,
    HOLIDAYS,
    SPECIAL_SESSIONS,
    Closure,
    Holiday,
    SpecialSession,
)
from kite_wire.formats import IST

# Regular sessions in IST on a normal weekday (MCX's close is the US-summer one; see mcx_close).
SESSIONS: dict[str, tuple[time, time]] = {
    "NSE": (time(9, 15), time(15, 30)),
    "BSE": (time(9, 15), time(15, 30)),
    "NFO": (time(9, 15), time(15, 30)),
    "BFO": (time(9, 15), time(15, 30)),
    "CDS": (time(9, 0), time(17, 0)),
    "BCD": (time(9, 0), time(17, 0)),
    "MCX": (time(9, 0), time(23, 30)),
}
SEGMENT = {"NSE": EQUITY, "BSE": EQUITY, "NFO": EQUITY, "BFO": EQUITY, "CDS": EQUITY, "BCD": EQUITY, "MCX": COMMODITY}
MCX_EVENING = time(17, 0)  # where MCX's morning session ends and its evening session begins
_LOOKAHEAD_DAYS = 30  # no exchange is closed this long


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def us_daylight_saving(day: date) -> bool:
    """Whether the US keeps daylight saving time on `day` (second Sunday of March to first of November)."""
    return _nth_sunday(day.year, 3, 2) <= day < _nth_sunday(day.year, 11, 1)


def mcx_close(day: date) -> time:
    """MCX's evening session ends at 23:30 IST during US daylight saving time, at 23:55 otherwise."""
    return time(23, 30) if us_daylight_saving(day) else time(23, 55)


@dataclass(frozen=True, slots=True)
class TradingDay:
    """One exchange's day: its session (None when closed) and why it is closed or special."""

    exchange: str
    day: date
    opens: datetime | None
    closes: datetime | None
    reason: str  # the holiday or weekend when closed; the special session's or partial holiday's name
    confirmed: bool  # False when the day rests on data the exchanges had not confirmed (see exchange_holidays)
    holiday: bool = False  # a declared holiday (fully or, for MCX, one of its sessions)

    @property
    def is_trading_day(self) -> bool:
        return self.opens is not None


@dataclass(frozen=True, slots=True)
class TradingSession:
    """One trading session: when it opens and when it closes."""

    opens: datetime
    closes: datetime


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """An exchange at one moment: open or not, the session in progress, and the next one to come."""

    exchange: str
    at: datetime
    today: TradingDay  # the IST date of `at`
    current: TradingSession | None  # the session in progress (None when closed)
    next: TradingSession | None  # the next session to open after `at` (None if none within 30 days)

    @property
    def open_now(self) -> bool:
        return self.current is not None


_MAX_CACHED_DAYS = 50_000  # seven exchanges over twenty years


class TradingCalendar:
    """The exchanges' trading days and sessions, from the holiday data."""

    def __init__(
        self, holidays: dict[str, tuple[Holiday, ...]] | None = None, specials: tuple[SpecialSession, ...] | None = None
    ) -> None:
        source = HOLIDAYS if holidays is None else holidays
        self._holidays = {(segment, h.day): h for segment, entries in source.items() for h in entries}
        self._specials = {
            (e, s.day): s for s in (SPECIAL_SESSIONS if specials is None else specials) for e in s.exchanges
        }
        self._days: dict[tuple[str, date], TradingDay] = {}

    @staticmethod
    def exchanges() -> list[str]:
        return sorted(SESSIONS)

    def trading_day(self, exchange: str, day: date) -> TradingDay:
        """`exchange`'s session on `day` (KeyError for an exchange with no sessions); computed once
        per exchange and day (the simulator and the stale-feed check ask for it per tick)."""
        key = (exchange, day)
        known = self._days.get(key)
        if known is None:
            if len(self._days) >= _MAX_CACHED_DAYS:
                self._days.clear()
            known = self._days[key] = self._trading_day(exchange, day)
        return known

    def _trading_day(self, exchange: str, day: date) -> TradingDay:
        opens, closes = SESSIONS[exchange]
        if exchange == "MCX":
            closes = mcx_close(day)
        covered = day.year in COVERED_YEARS

        def at(moment: time) -> datetime:
            return datetime.combine(day, moment, IST)

        special = self._specials.get((exchange, day))
        if special is not None:
            return TradingDay(exchange, day, at(special.opens), at(special.closes), special.name, special.confirmed)
        if day.weekday() >= 5:
            reason = day.strftime("%A") + ("" if covered else f" (no holiday data for {day.year})")
            return TradingDay(exchange, day, None, None, reason, covered)
        holiday = self._holidays.get((SEGMENT[exchange], day))
        if holiday is None:
            return TradingDay(
                exchange, day, at(opens), at(closes), "" if covered else f"no holiday data for {day.year}", covered
            )
        if holiday.closure is Closure.MORNING:
            reason = f"{holiday.name} (morning session closed)"
            return TradingDay(exchange, day, at(MCX_EVENING), at(closes), reason, holiday.confirmed, holiday=True)
        if holiday.closure is Closure.EVENING:
            reason = f"{holiday.name} (evening session closed)"
            return TradingDay(exchange, day, at(opens), at(MCX_EVENING), reason, holiday.confirmed, holiday=True)
        return TradingDay(exchange, day, None, None, holiday.name, holiday.confirmed, holiday=True)

    def is_trading_day(self, exchange: str, day: date) -> bool:
        return self.trading_day(exchange, day).is_trading_day

    def on_or_before(self, exchange: str, day: date) -> date:
        """`day` if `exchange` trades then, else the trading day before it (where an expiry moves)."""
        while not self.is_trading_day(exchange, day):
            day -= timedelta(days=1)
        return day

    def days(self, exchange: str, first: date, last: date) -> list[TradingDay]:
        """Every day from `first` to `last`, trading or not."""
        return [self.trading_day(exchange, first + timedelta(days=n)) for n in range((last - first).days + 1)]

    def status(self, exchange: str, moment: datetime) -> MarketStatus:
        """Whether `exchange` is open at `moment`, the session in progress and the next one."""
        local = moment.astimezone(IST)
        today = self.trading_day(exchange, local.date())
        current = upcoming = None
        if today.opens is not None and today.closes is not None:
            if today.opens <= local < today.closes:
                current = TradingSession(today.opens, today.closes)
            elif local < today.opens:
                upcoming = TradingSession(today.opens, today.closes)
        for offset in range(1, _LOOKAHEAD_DAYS + 1):
            if upcoming is not None or (date.max - local.date()).days < offset:  # no days after 9999-12-31
                break
            later = self.trading_day(exchange, local.date() + timedelta(days=offset))
            if later.opens is not None and later.closes is not None:
                upcoming = TradingSession(later.opens, later.closes)
        return MarketStatus(exchange, moment, today, current, upcoming)


TRADING_CALENDAR = TradingCalendar()

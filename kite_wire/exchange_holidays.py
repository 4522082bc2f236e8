"""The exchanges' trading holidays and special sessions for 2026 and 2027, as data.

Sources (taken 2026-12-02):
- 2026 equity and equity derivatives (NSE and BSE, so NSE, NFO, BSE, BFO): NSE's "Trading
  holidays for the calendar year 2026" circular, with the later addition of 15 January
  (Maharashtra municipal elections), as reproduced by stocktrack.co.in (NSE trading holidays 2026).
- 2026 commodity derivatives (MCX, morning and evening sessions): MCX's 2026 holiday list as
  reproduced by rupeezy.in/mcx-holiday.
- 2026 special sessions: NSE's circular of 2026-01-16 (live trading on Sunday 1 February 2026,
  Union Budget, standard timings; BSE declared the same day a special trading day); Muhurat
  trading on Sunday 8 November 2026 (Diwali Laxmi Pujan) as the 2026 holiday circular announces it.
- 2027: no exchange had published its 2027 list in the material available; the 2027 entries are
  PROJECTED from the festival calendar on the pattern of 2026 and are marked `confirmed=False`.
  Replace them with the exchanges' circulars when those are out (NSE usually publishes in December).

Also unconfirmed (`confirmed=False`): the Muhurat session times (the exchanges announce them by a
circular shortly before Diwali; 13:45-14:45 IST, the latest known timing, 2025's by NSE's circular
of 2025-09-22, stands in), MCX on the 15 January
2026 municipal elections (its list as reproduced does not include the day, but the exchanges'
circulars as reported by geojit.com say its evening session stayed open that day, so it is modelled
like its other equity holidays: morning closed, evening open), and the currency segment (CDS, BCD),
which is modelled on the equity list: its own list, which follows RBI's holidays, was not available.

Weekend holidays (Mahashivratri 15 Feb, Id-Ul-Fitr 21 Mar, Independence Day 15 Aug 2026, ...) need
no entry: weekends are closed anyway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from enum import Enum

EQUITY = "equity"  # NSE, BSE and their derivatives (NFO, BFO), and the currency segment (CDS, BCD)
COMMODITY = "commodity"  # MCX

COVERED_YEARS = frozenset({2026, 2027})


class Closure(Enum):
    """What a holiday closes: the whole day, or (MCX) only its morning or only its evening session."""

    FULL = "full"
    MORNING = "morning"  # MCX: closed 09:00-17:00, the evening session trades
    EVENING = "evening"  # MCX: the morning session trades, closed from 17:00


@dataclass(frozen=True, slots=True)
class Holiday:
    """A weekday on which a segment does not trade (or, for MCX, trades only one session)."""

    day: date
    name: str
    closure: Closure = Closure.FULL
    confirmed: bool = True


@dataclass(frozen=True, slots=True)
class SpecialSession:
    """A session on a day that is otherwise closed (a weekend or holiday): it replaces the day's hours."""

    day: date
    name: str
    exchanges: frozenset[str]
    opens: time
    closes: time
    confirmed: bool = True


_EQUITY_2026 = (
    Holiday(date(2026, 1, 15), "Municipal Corporation Election - Maharashtra"),
    Holiday(date(2026, 1, 26), "Republic Day"),
    Holiday(date(2026, 3, 3), "Holi"),
    Holiday(date(2026, 3, 26), "Shri Ram Navami"),
    Holiday(date(2026, 3, 31), "Shri Mahavir Jayanti"),
    Holiday(date(2026, 4, 3), "Good Friday"),
    Holiday(date(2026, 4, 14), "Dr. Baba Saheb Ambedkar Jayanti"),
    Holiday(date(2026, 5, 1), "Maharashtra Day"),
    Holiday(date(2026, 5, 28), "Bakri Id"),
    Holiday(date(2026, 6, 26), "Muharram"),
    Holiday(date(2026, 9, 14), "Ganesh Chaturthi"),
    Holiday(date(2026, 10, 2), "Mahatma Gandhi Jayanti"),
    Holiday(date(2026, 10, 20), "Dussehra"),
    Holiday(date(2026, 11, 10), "Diwali Balipratipada"),
    Holiday(date(2026, 11, 24), "Prakash Gurpurb Sri Guru Nanak Dev"),
    Holiday(date(2026, 12, 25), "Christmas"),
)

_EQUITY_2027 = tuple(
    Holiday(day, name, confirmed=False)
    for day, name in (
        (date(2027, 1, 26), "Republic Day"),
        (date(2027, 3, 9), "Id-Ul-Fitr (Ramadan Eid)"),  # moon-dependent
        (date(2027, 3, 22), "Holi"),
        (date(2027, 3, 26), "Good Friday"),
        (date(2027, 4, 14), "Dr. Baba Saheb Ambedkar Jayanti"),
        (date(2027, 4, 15), "Shri Ram Navami"),
        (date(2027, 4, 19), "Shri Mahavir Jayanti"),
        (date(2027, 5, 17), "Bakri Id"),  # moon-dependent
        (date(2027, 6, 15), "Muharram"),  # moon-dependent
        (date(2027, 10, 29), "Diwali Laxmi Pujan"),
    )
)

_MCX_2026 = (
    Holiday(date(2026, 1, 1), "New Year Day", Closure.EVENING),
    Holiday(date(2026, 1, 15), "Municipal Corporation Election - Maharashtra", Closure.MORNING, confirmed=False),
    Holiday(date(2026, 1, 26), "Republic Day"),
    Holiday(date(2026, 3, 3), "Holi", Closure.MORNING),
    Holiday(date(2026, 3, 31), "Shri Mahavir Jayanti", Closure.MORNING),
    Holiday(date(2026, 4, 3), "Good Friday"),
    Holiday(date(2026, 4, 14), "Dr. Baba Saheb Ambedkar Jayanti", Closure.MORNING),
    Holiday(date(2026, 5, 1), "Maharashtra Day", Closure.MORNING),
    Holiday(date(2026, 5, 28), "Bakri Id (Id-Ul-Zuha)", Closure.MORNING),
    Holiday(date(2026, 6, 26), "Muharram", Closure.MORNING),
    Holiday(date(2026, 9, 14), "Ganesh Chaturthi", Closure.MORNING),
    Holiday(date(2026, 10, 2), "Mahatma Gandhi Jayanti"),
    Holiday(date(2026, 10, 20), "Dussehra", Closure.MORNING),
    Holiday(date(2026, 11, 10), "Diwali Balipratipada", Closure.MORNING),
    Holiday(date(2026, 11, 24), "Guru Nanak Jayanti", Closure.MORNING),
    Holiday(date(2026, 12, 25), "Christmas"),
)

_MCX_2027 = tuple(
    Holiday(day, name, closure, confirmed=False)
    for day, name, closure in (
        (date(2027, 1, 1), "New Year Day", Closure.EVENING),
        (date(2027, 1, 26), "Republic Day", Closure.FULL),
        (date(2027, 3, 9), "Id-Ul-Fitr (Ramadan Eid)", Closure.MORNING),
        (date(2027, 3, 22), "Holi", Closure.MORNING),
        (date(2027, 3, 26), "Good Friday", Closure.FULL),
        (date(2027, 4, 14), "Dr. Baba Saheb Ambedkar Jayanti", Closure.MORNING),
        (date(2027, 4, 19), "Shri Mahavir Jayanti", Closure.MORNING),
        (date(2027, 5, 17), "Bakri Id (Id-Ul-Zuha)", Closure.MORNING),
        (date(2027, 6, 15), "Muharram", Closure.MORNING),
        (date(2027, 10, 29), "Diwali Laxmi Pujan", Closure.FULL),
    )
)

HOLIDAYS: dict[str, tuple[Holiday, ...]] = {
    EQUITY: _EQUITY_2026 + _EQUITY_2027,
    COMMODITY: _MCX_2026 + _MCX_2027,
}

_ALL = frozenset({"NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX"})
_MUHURAT = "Muhurat trading (Diwali Laxmi Pujan)"

SPECIAL_SESSIONS: tuple[SpecialSession, ...] = (
    SpecialSession(
        date(2026, 2, 1), "Union Budget (live trading on a Sunday)", frozenset({"NSE", "BSE", "NFO", "BFO"}),
        time(9, 15), time(15, 30),
    ),
    SpecialSession(date(2026, 11, 8), _MUHURAT, _ALL, time(13, 45), time(14, 45), confirmed=False),
    SpecialSession(date(2027, 10, 29), _MUHURAT, _ALL, time(13, 45), time(14, 45), confirmed=False),
)  # fmt: skip

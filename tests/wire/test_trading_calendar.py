"""The trading calendar on days whose answer is known: holidays, weekends, special sessions, MCX's
split days and evening hours, and days the data does not cover."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from kite_wire import TRADING_CALENDAR, MarketHours
from kite_wire.exchange_holidays import COMMODITY, COVERED_YEARS, EQUITY, HOLIDAYS, SPECIAL_SESSIONS
from kite_wire.formats import IST
from kite_wire.trading_calendar import TradingSession, mcx_close

CAL = TRADING_CALENDAR


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), IST)


@pytest.mark.parametrize("exchange", ["NSE", "BSE", "NFO", "BFO", "CDS", "MCX"])
def test_republic_day_2026_is_closed_all_day_on_every_exchange_with_its_name_as_the_reason(exchange: str) -> None:
    day = CAL.trading_day(exchange, date(2026, 1, 26))
    assert not day.is_trading_day and day.holiday and day.reason == "Republic Day" and day.confirmed


def test_a_plain_saturday_is_closed_and_says_it_is_a_saturday() -> None:
    day = CAL.trading_day("NSE", date(2026, 12, 5))
    assert not day.is_trading_day and day.reason == "Saturday" and not day.holiday


def test_a_plain_weekday_trades_the_regular_session() -> None:
    day = CAL.trading_day("NSE", date(2026, 12, 2))
    assert (day.opens, day.closes, day.reason) == (at(date(2026, 12, 2), 9, 15), at(date(2026, 12, 2), 15, 30), "")


def test_muhurat_trading_on_diwali_sunday_2026_opens_every_exchange_for_its_hour_only() -> None:
    sunday = date(2026, 11, 8)
    for exchange in ("NSE", "BSE", "NFO", "MCX", "CDS"):
        day = CAL.trading_day(exchange, sunday)
        assert day.is_trading_day and "Muhurat" in day.reason and not day.confirmed  # the timing is a stand-in
        assert not MarketHours().is_open(exchange, at(sunday, 10))
        assert MarketHours().is_open(exchange, at(sunday, 14, 0)) and not MarketHours().is_open(
            exchange, at(sunday, 15)
        )


def test_the_union_budget_sunday_2026_trades_equity_at_standard_hours_but_not_mcx() -> None:
    sunday = date(2026, 2, 1)
    assert MarketHours().session("NSE", sunday) == (at(sunday, 9, 15), at(sunday, 15, 30))
    assert MarketHours().session("BFO", sunday) is not None
    assert MarketHours().session("MCX", sunday) is None


def test_mcx_evening_session_trades_on_an_equity_holiday_whose_morning_it_closes() -> None:
    guru_nanak = date(2026, 11, 24)
    assert not CAL.is_trading_day("NSE", guru_nanak)
    mcx = CAL.trading_day("MCX", guru_nanak)
    assert mcx.is_trading_day and mcx.holiday and "morning session closed" in mcx.reason
    assert not MarketHours().is_open("MCX", at(guru_nanak, 10))
    assert MarketHours().is_open("MCX", at(guru_nanak, 22))


def test_mcx_new_year_trades_the_morning_and_closes_the_evening() -> None:
    day = CAL.trading_day("MCX", date(2026, 1, 1))
    assert (day.opens, day.closes) == (at(date(2026, 1, 1), 9), at(date(2026, 1, 1), 17))
    assert CAL.is_trading_day("NSE", date(2026, 1, 1))


def test_mcx_closes_at_2330_in_us_summer_and_2355_in_us_winter() -> None:
    assert mcx_close(date(2026, 3, 6)) == time(23, 55)  # before the US's second Sunday of March (8th)
    assert mcx_close(date(2026, 3, 9)) == time(23, 30)
    assert mcx_close(date(2026, 10, 30)) == time(23, 30)  # before the first Sunday of November (1st)
    assert mcx_close(date(2026, 11, 2)) == time(23, 55)
    assert MarketHours().is_open("MCX", at(date(2026, 12, 2), 23, 45))
    assert not MarketHours().is_open("MCX", at(date(2026, 7, 1), 23, 45))


def test_the_currency_segment_trades_nine_to_five() -> None:
    assert MarketHours().session("CDS", date(2026, 12, 2)) == (at(date(2026, 12, 2), 9), at(date(2026, 12, 2), 17))


def test_an_expiry_on_a_holiday_moves_to_the_trading_day_before_and_a_weekend_past_it() -> None:
    assert CAL.on_or_before("NFO", date(2026, 3, 31)) == date(2026, 3, 30)  # Mahavir Jayanti, a Tuesday
    assert CAL.on_or_before("NFO", date(2026, 4, 3)) == date(2026, 4, 2)  # Good Friday
    assert CAL.on_or_before("NFO", date(2026, 1, 26)) == date(2026, 1, 23)  # Monday: back past the weekend
    assert CAL.on_or_before("NFO", date(2026, 12, 1)) == date(2026, 12, 1)


def test_status_on_a_holiday_names_it_and_gives_the_next_session() -> None:
    status = CAL.status("NSE", at(date(2026, 12, 25), 11))
    assert not status.open_now and status.today.reason == "Christmas"
    assert status.current is None
    assert status.next == TradingSession(at(date(2026, 12, 28), 9, 15), at(date(2026, 12, 28), 15, 30))


def test_status_during_a_session_is_open_until_its_close() -> None:
    status = CAL.status("MCX", at(date(2026, 12, 2), 20))
    assert status.open_now and status.current == TradingSession(at(date(2026, 12, 2), 9), at(date(2026, 12, 2), 23, 55))
    assert status.next == TradingSession(at(date(2026, 12, 3), 9), at(date(2026, 12, 3), 23, 55))


def test_status_before_the_open_gives_todays_session() -> None:
    status = CAL.status("NSE", at(date(2026, 12, 2), 8))
    assert not status.open_now and status.next is not None and status.next.opens == at(date(2026, 12, 2), 9, 15)


def test_a_year_without_data_is_weekdays_only_and_says_so() -> None:
    day = CAL.trading_day("NSE", date(2030, 1, 1))
    assert day.is_trading_day and not day.confirmed and "no holiday data" in day.reason


def test_the_data_lists_only_weekdays_in_covered_years_once_each_and_marks_2027_unconfirmed() -> None:
    for segment in (EQUITY, COMMODITY):
        days = [h.day for h in HOLIDAYS[segment]]
        assert len(days) == len(set(days)), segment
        assert all(d.weekday() < 5 and d.year in COVERED_YEARS for d in days), segment
        assert all(not h.confirmed for h in HOLIDAYS[segment] if h.day.year == 2027)
    assert all(s.opens < s.closes and s.day.year in COVERED_YEARS for s in SPECIAL_SESSIONS)


def test_mcx_closes_its_morning_but_trades_its_evening_on_the_15_january_2026_municipal_elections() -> None:
    # The sources (shared kite-alerts-and-rules §6): NSE and BSE closed; "the MCX evening session
    # stayed open that day"; MCX's own list as reproduced omits the day, so it stays unconfirmed.
    election = date(2026, 1, 15)
    assert not CAL.is_trading_day("NSE", election)
    mcx = CAL.trading_day("MCX", election)
    assert mcx.holiday and "morning session closed" in mcx.reason and not mcx.confirmed
    assert not MarketHours().is_open("MCX", at(election, 10))
    assert MarketHours().is_open("MCX", at(election, 20))

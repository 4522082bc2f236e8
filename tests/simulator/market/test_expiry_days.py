"""Contracts expire only on trading days: an expiry that falls on a weekend or an exchange holiday
moves to the trading day before it, as the exchanges move it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kite_simulator.universe import build_universe
from kite_wire import TRADING_CALENDAR


@pytest.mark.parametrize("first", [date(2026, 1, 1), date(2026, 7, 1), date(2027, 1, 1), date(2027, 7, 1)])
def test_no_generated_contract_expires_on_a_weekend_or_holiday_whichever_day_the_universe_is_built(
    first: date,
) -> None:
    for offset in range(0, 182, 9):
        day = first + timedelta(days=offset)
        wrong = [
            (i.symbol, i.expiry)
            for i in build_universe(3, day)
            if i.expiry is not None and not TRADING_CALENDAR.is_trading_day(i.exchange, i.expiry)
        ]
        assert not wrong, f"built on {day}: {wrong[:5]}"


def test_no_listed_contract_has_expired_before_the_day_it_is_listed_on() -> None:
    for offset in range(0, 60):
        day = date(2026, 3, 1) + timedelta(days=offset)
        assert all(i.expiry is None or i.expiry >= day for i in build_universe(3, day)), day


def test_the_nifty_weekly_on_holi_tuesday_expires_on_the_monday_with_that_date_in_its_symbol() -> None:
    universe = build_universe(3, date(2026, 2, 25))
    expiries = {i.expiry for i in universe if i.name == "NIFTY" and i.instrument_type == "CE"}
    assert date(2026, 3, 2) in expiries and date(2026, 3, 3) not in expiries  # Holi, 3 March 2026
    assert any(i.tradingsymbol.startswith("NIFTY26302") for i in universe if i.expiry == date(2026, 3, 2))


def test_the_march_2026_monthly_on_mahavir_jayanti_expires_on_monday_the_30th() -> None:
    futures = [i for i in build_universe(3, date(2026, 3, 25)) if i.tradingsymbol == "NIFTY26MARFUT"]
    assert [f.expiry for f in futures] == [date(2026, 3, 30)]

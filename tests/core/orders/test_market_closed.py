"""core/orders/market_closed.py: Kite's "markets are closed" refusal told with the trading calendar."""

from __future__ import annotations

from datetime import datetime

from kite_gateway.core.orders.market_closed import with_next_session
from kite_gateway.errors import GatewayError, Reason, Status
from kite_wire import IST

REFUSAL = GatewayError(Status.FAILED_PRECONDITION, Reason.MARKET_CLOSED, "Kite: Markets are closed.", {"a": "b"})


def test_a_refusal_on_a_holiday_names_the_holiday_and_the_next_session() -> None:
    told = with_next_session(REFUSAL, "NSE", datetime(2026, 11, 24, 10, 0, tzinfo=IST))  # Guru Nanak Jayanti
    assert "NSE is closed (" in told.message and "opens next at 2026-11-25 09:15 IST" in told.message
    assert told.metadata == {"a": "b", "next_session_opens": "2026-11-25T09:15:00+05:30"}
    assert (told.code, told.reason) == (REFUSAL.code, REFUSAL.reason)


def test_a_refusal_after_the_close_on_a_friday_points_to_monday() -> None:
    told = with_next_session(REFUSAL, "NSE", datetime(2026, 11, 27, 16, 0, tzinfo=IST))
    assert told.metadata["next_session_opens"] == "2026-11-30T09:15:00+05:30"
    assert "NSE is closed;" in told.message  # a trading day, after its session: no holiday to name


def test_an_exchange_the_calendar_does_not_know_leaves_the_refusal_as_kite_said_it() -> None:
    assert with_next_session(REFUSAL, "XYZ", datetime(2026, 11, 24, 10, 0, tzinfo=IST)) is REFUSAL

"""The calendar use case: every exchange's status when none is named, a holiday's name as the
reason, day ranges checked, unknown exchanges refused with the field named."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kite_gateway.core.market import MAX_CALENDAR_DAYS, market_status, trading_calendar
from kite_gateway.errors import GatewayError, Status
from kite_wire.formats import IST


def test_status_without_exchanges_answers_for_every_exchange_with_the_holiday_as_reason() -> None:
    statuses = market_status([], datetime(2026, 1, 26, 11, 0, tzinfo=IST))
    assert [s.exchange for s in statuses] == ["BCD", "BFO", "BSE", "CDS", "MCX", "NFO", "NSE"]
    assert all(not s.open_now and s.today.reason == "Republic Day" for s in statuses)


def test_status_names_each_exchange_once_in_the_order_asked() -> None:
    statuses = market_status(["MCX", "NSE", "MCX"], datetime(2026, 11, 24, 20, 0, tzinfo=IST))
    assert [(s.exchange, s.open_now) for s in statuses] == [("MCX", True), ("NSE", False)]


def test_an_unknown_exchange_is_invalid_argument_naming_its_position() -> None:
    with pytest.raises(GatewayError) as caught:
        market_status(["NSE", "NASDAQ"], datetime(2026, 12, 2, tzinfo=IST))
    assert caught.value.code is Status.INVALID_ARGUMENT and "exchanges[1]" in str(caught.value)


def test_a_range_lists_every_day_trading_or_not() -> None:
    days = trading_calendar(["NSE"], date(2026, 12, 24), date(2026, 12, 28))["NSE"]
    assert [(d.day.day, d.is_trading_day, d.reason) for d in days] == [
        (24, True, ""), (25, False, "Christmas"), (26, False, "Saturday"), (27, False, "Sunday"), (28, True, ""),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("first", "last"), [(date(2026, 12, 2), date(2026, 12, 1)), (date(2026, 1, 1), date(2028, 1, 2))]
)
def test_a_backwards_or_too_long_range_is_invalid_argument(first: date, last: date) -> None:
    assert (last - first).days < 0 or (last - first).days >= MAX_CALENDAR_DAYS
    with pytest.raises(GatewayError) as caught:
        trading_calendar(["NSE"], first, last)
    assert caught.value.code is Status.INVALID_ARGUMENT and "end_date" in str(caught.value)


def test_the_longest_range_is_accepted_and_one_day_more_names_the_last_end_date_allowed() -> None:
    first = date(2026, 1, 1)
    longest = trading_calendar(["NSE"], first, date(2028, 1, 1))  # 730 days after: 2026 and 2027 have 365
    assert len(longest["NSE"]) == MAX_CALENDAR_DAYS
    with pytest.raises(GatewayError) as caught:
        trading_calendar(["NSE"], first, date(2028, 1, 2))
    assert "at most 731 days in all" in caught.value.message and "2028-01-01 at the latest" in caught.value.message

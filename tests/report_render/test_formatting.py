"""Numbers as text: exact digits always, the Indian grouping for people."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from kite_gateway.report_render.formatting import display_text, indian_number, plain_number, plain_text, rupees


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12345678.50"), "1,23,45,678.50"),
        (Decimal("-12345678.50"), "-1,23,45,678.50"),
        (Decimal("123456789012.05"), "1,23,45,67,89,012.05"),
        (Decimal("100000"), "1,00,000"),
        (Decimal("99999"), "99,999"),
        (Decimal("1000"), "1,000"),
        (Decimal("999.99"), "999.99"),
        (Decimal("0.05"), "0.05"),
        (Decimal("-0.00"), "0.00"),
        (Decimal("1E+5"), "1,00,000"),
        (1500, "1,500"),
        (-7, "-7"),
        (0, "0"),
    ],
)
def test_indian_grouping_puts_thousands_then_pairs_and_keeps_every_digit(value: int | Decimal, text: str) -> None:
    assert indian_number(value) == text


def test_rupees_put_the_minus_before_the_sign() -> None:
    assert rupees(Decimal("12345678.50")) == "₹1,23,45,678.50"
    assert rupees(Decimal("-1500")) == "-₹1,500"


def test_plain_numbers_have_no_exponent_and_no_float_rounding() -> None:
    assert plain_number(Decimal("1E+3")) == "1000"
    assert plain_number(Decimal("1E-7")) == "0.0000001"
    assert plain_number(Decimal("0.1") + Decimal("0.2")) == "0.3"
    assert plain_number(Decimal("123456789012345678.000001")) == "123456789012345678.000001"


def test_dates_are_iso_and_none_is_empty() -> None:
    assert plain_text(date(2026, 3, 31)) == "2026-03-31"
    assert plain_text(datetime(2026, 3, 31, 9, 15, 0)) == "2026-03-31 09:15:00"
    assert plain_text(None) == display_text(None) == ""
    assert display_text("INFY") == "INFY"

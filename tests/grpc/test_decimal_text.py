"""grpc/decimal_text.py at the edges of google.type.Decimal's grammar: exponents beyond what
Python's decimal context holds, and digits beyond its 28-digit precision, are refused by name as
INVALID_ARGUMENT, never an arithmetic exception and never rounded into an accepted value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kite_gateway.errors import GatewayError, Status
from kite_gateway.grpc.decimal_text import parse


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1e999999999", "is too large"),  # beyond decimal's Emax: normalize() raised decimal.Overflow
        ("1e99999", "is too large"),
        ("-1E+99999999999999999999", "exponent out of range"),  # decimal.InvalidOperation before
        ("0e-99999999999999999999", "exponent out of range"),
        ("1e-999999999", "more than 8 digits after the decimal point"),
        ("1.00000000000000000000000000001", "more than 8 digits after the decimal point"),  # rounded to 1 before
        ("100000000000000000000000000001e-8", "more than 20 significant digits"),
        ("123456789012345678901", "more than 20 significant digits"),
    ],
)
def test_a_decimal_beyond_the_context_or_its_precision_is_refused_not_rounded_or_overflowed(
    text: str, problem: str
) -> None:
    with pytest.raises(GatewayError) as caught:
        parse(text, "params.price")
    assert caught.value.code is Status.INVALID_ARGUMENT
    assert caught.value.field_violations[0][0] == "params.price" and problem in caught.value.message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0e999999999999", "0"),
        ("-0", "0"),
        ("1.", "1"),
        ("12345678901234567890", "12345678901234567890"),
        ("123456789012.12345678", "123456789012.12345678"),
        ("100000000000000000000e-8", "1000000000000"),
        ("0.00000001", "0.00000001"),
        ("1.50000000000000000000000", "1.5"),
        ("15e-1", "1.5"),
    ],
)
def test_a_decimal_at_the_edge_of_the_limits_keeps_its_exact_value(text: str, value: str) -> None:
    assert parse(text, "price") == Decimal(value)

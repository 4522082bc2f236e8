"""grpc/decimal_text.py at the edges of google.type.Decimal's grammar: exponents beyond what
Python's decimal context holds, and digits beyond its 28-digit precision, are refused by name as
INVALID_ARGUMENT, never an arithmetic exception and never rounded into an accepted value; and a
request's Decimals in their plain form, for what identifies the request: every way of writing one
value is the same request, nested and repeated fields included, and the original is untouched."""

from __future__ import annotations

from decimal import Decimal

import pytest
from google.type.decimal_pb2 import Decimal as Decimal_pb
from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.orders import fingerprint
from kite_gateway.errors import GatewayError, Status
from kite_gateway.grpc.decimal_text import canonical, parse


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


def gtt(last: str, triggers: list[str], price: str) -> order_pb2.GttParams:
    return order_pb2.GttParams(
        last_price=Decimal_pb(value=last),
        trigger_values=[Decimal_pb(value=t) for t in triggers],
        legs=[order_pb2.GttLeg(quantity=1, price=Decimal_pb(value=price))],
    )


def test_one_value_written_several_ways_is_one_request_and_other_values_are_not() -> None:
    plain = gtt("1500.5", ["1400", "1600.05"], "1401")
    for written in (gtt("1500.50", ["1.4e3", "01600.050"], "+1401.0"), gtt("15005e-1", ["1400.", "1600.05"], "1401")):
        assert fingerprint(canonical(written)) == fingerprint(canonical(plain)) == fingerprint(plain)
    assert fingerprint(canonical(gtt("1500.55", ["1400", "1600.05"], "1401"))) != fingerprint(plain)


def test_the_request_itself_is_left_as_the_caller_wrote_it() -> None:
    written = gtt("1500.50", ["-0", "7E+2"], "")
    copy = canonical(written)
    assert [d.value for d in copy.trigger_values] == ["0", "700"] and copy.legs[0].price.value == ""
    assert written.last_price.value == "1500.50" and written.trigger_values[1].value == "7E+2"

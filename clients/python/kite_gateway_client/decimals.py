"""Exact prices: google.type.Decimal (a decimal string) to and from decimal.Decimal."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from google.type.decimal_pb2 import Decimal as DecimalMessage

MAX_FRACTION = 8  # what the gateway accepts after the decimal point


def to_decimal(value: DecimalMessage) -> Decimal:
    """The exact value the gateway sent ("" is zero)."""
    return Decimal(value.value) if value.value else Decimal(0)


def from_decimal(value: Decimal | int | str) -> DecimalMessage:
    """A Decimal message in plain notation; ValueError for what the gateway would refuse."""
    try:
        exact = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not exact.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    if exact.is_zero():
        return DecimalMessage(value="0")
    if int(exact.normalize().as_tuple().exponent) < -MAX_FRACTION:
        raise ValueError(f"{value} has more than {MAX_FRACTION} decimal places")
    text = f"{exact:f}"
    return DecimalMessage(value=text.rstrip("0").rstrip(".") if "." in text else text)

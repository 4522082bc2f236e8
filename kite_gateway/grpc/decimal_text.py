"""google.type.Decimal's string to and from decimal.Decimal: the grammar the API documents
(protos/kite_gateway/v1/common.proto) for what it accepts, and the plain form it sends."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from google.protobuf.message import Message

from kite_gateway.errors import GatewayError, invalid

M = TypeVar("M", bound=Message)
DECIMAL_MESSAGE = "google.type.Decimal"

# google.type.Decimal's grammar: sign, digits with an optional point and fraction, an exponent.
GRAMMAR = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
MAX_SIGNIFICANT = 20
MAX_FRACTION = 8
MAX_TEXT = 64
SENT_FRACTION = Decimal("1e-9")  # what the gateway computes (P&L, averages) is sent to 9 places


def parse(text: str, field: str) -> Decimal:
    """The exact value of a request's Decimal; "" is zero ("not given" where a field is optional)."""
    if not text:
        return Decimal(0)
    if len(text) > MAX_TEXT or GRAMMAR.fullmatch(text) is None:
        raise _malformed(text, field)
    try:
        number = Decimal(text)
    except ArithmeticError:  # an exponent beyond what decimal can represent at all
        raise invalid(field, f"{text!r} has an exponent out of range: write the number without one") from None
    if number.is_zero():
        return Decimal(0)
    # Counted on the digits themselves: Decimal's arithmetic (normalize, abs) rounds to the context's
    # 28 digits and overflows beyond its exponent range, which would hide digits or fail.
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # the grammar admits no NaN or Infinity
    written = "".join(map(str, digits)).lstrip("0")
    significant = written.rstrip("0")
    exponent += len(written) - len(significant)  # the value is int(significant) * 10**exponent
    if -exponent > MAX_FRACTION:
        raise invalid(field, f"{text!r} has more than {MAX_FRACTION} digits after the decimal point")
    if len(significant) > MAX_SIGNIFICANT:
        raise invalid(field, f"{text!r} has more than {MAX_SIGNIFICANT} significant digits")
    if exponent + len(significant) > MAX_SIGNIFICANT:
        raise invalid(field, f"{text!r} is too large: more than {MAX_SIGNIFICANT} significant digits before the point")
    return number


def _malformed(text: str, field: str) -> GatewayError:
    shown = text if len(text) <= 24 else text[:24] + "..."
    return invalid(field, f'{shown!r} is not a decimal number: write it like "1562.55", "-10.6" or "0"')


def format_decimal(value: Decimal) -> str:
    """The shortest plain notation: no exponent, no trailing zeros after the point, "0" for zero,
    at most 9 places after the point; so equal numbers are always the same text."""
    if value.is_zero():
        return "0"
    if int(value.as_tuple().exponent) < -9:
        value = value.quantize(SENT_FRACTION, rounding=ROUND_HALF_EVEN)
        if value.is_zero():
            return "0"
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def canonical(message: M) -> M:
    """A copy of a (validated) request with every Decimal in its plain form ("1500.50", "1.5e3" and
    "01500.5" all "1500.5"), so that what identifies a request (its idempotency fingerprint) is
    its values, not how they were written."""
    copy = type(message)()
    copy.CopyFrom(message)
    _canonicalize(copy)
    return copy


def _canonicalize(message: Message) -> None:
    if message.DESCRIPTOR.full_name == DECIMAL_MESSAGE:
        text: str = message.value  # type: ignore[attr-defined]
        if text:
            message.value = format_decimal(Decimal(text))  # type: ignore[attr-defined]
        return
    for field, found in message.ListFields():
        value: Any = found
        kind = field.message_type
        if kind is None:
            continue
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].message_type is not None:
                for entry in value.values():
                    _canonicalize(entry)
        elif field.is_repeated:
            for item in value:
                _canonicalize(item)
        else:
            _canonicalize(value)

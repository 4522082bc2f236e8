"""grpc/tick_encoding.py's prices: the text a tick carries is the very text the rest of the API
sends for the same number (grpc/decimal_text.py), straight from the ticker's integers."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kite_gateway.grpc.decimal_text import format_decimal
from kite_gateway.grpc.tick_encoding import price_text


@given(st.integers(-(10**12), 10**12), st.sampled_from([100, 10_000, 10_000_000]))
def test_a_tick_price_is_the_same_text_as_any_other_decimal_of_the_api(value: int, divisor: int) -> None:
    assert price_text(value, divisor) == format_decimal(Decimal(value) / divisor)


def test_tick_prices_read_as_people_write_them() -> None:
    assert [price_text(v, 100) for v in (156255, 156250, 156200, 5, 0, -1060)] == [
        "1562.55",
        "1562.5",
        "1562",
        "0.05",
        "0",
        "-10.6",
    ]
    assert price_text(83_512_500, 10_000_000) == "8.35125"

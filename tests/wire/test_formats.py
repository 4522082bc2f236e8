"""How Kite writes numbers: one formatter for the gateway's requests and the simulator's answers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kite_wire.formats import kite_decimal, kite_number


@pytest.mark.parametrize(
    ("value", "written"),
    [(Decimal("100"), 100), (Decimal("100.00"), 100), (Decimal("0.05"), 0.05), (Decimal("-2.5"), -2.5)],
)
def test_a_whole_decimal_is_an_integer_and_any_other_the_shortest_float(value: Decimal, written: float) -> None:
    number = kite_number(value)
    assert number == written and type(number) is type(written)


@pytest.mark.parametrize(
    ("value", "exact"),
    [(None, Decimal(0)), ("", Decimal(0)), (0.1, Decimal("0.1")), ("1573.15", Decimal("1573.15")), (7, Decimal(7)),
     (Decimal("2.50"), Decimal("2.50"))],
)  # fmt: skip
def test_a_number_from_kite_reads_as_the_decimal_it_was_written_as(value: object, exact: Decimal) -> None:
    assert kite_decimal(value) == exact


def test_a_decimal_survives_being_written_and_read() -> None:
    for text in ("0.0025", "24350.45", "1", "84.4525"):
        assert kite_decimal(kite_number(Decimal(text))) == Decimal(text)


def test_what_is_not_a_number_is_refused() -> None:
    with pytest.raises(TypeError):
        kite_decimal([1])

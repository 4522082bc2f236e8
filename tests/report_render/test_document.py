"""The Document model: what it refuses when built, and how a renderer finds its tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kite_gateway.report_render import BarChart, Document, LineChart, Note, Section, Table
from tests.report_render.samples import daily_report, tradebook


def test_tables_are_listed_in_the_order_the_sections_show_them() -> None:
    first = Table("a", "A", ("x",), ((1,),))
    second = Table("b", "B", ("x",), ((2,),))
    document = Document("pnl", "P&L", "", (), (Section("one", (first, Note("n"))), Section("two", (second,))))
    assert document.tables() == (first, second)
    assert document.table("b") is second


def test_a_missing_table_is_a_lookup_error_naming_the_tables_there_are() -> None:
    with pytest.raises(LookupError, match=r"no table 'charges'.*'tradebook'") as raised:
        daily_report().table("charges")
    assert not isinstance(raised.value, KeyError)  # str(KeyError) would quote the message


def test_a_float_cell_is_refused_because_money_is_decimal() -> None:
    with pytest.raises(TypeError, match="float"):
        Table("t", "T", ("price",), ((1523.45,),))  # type: ignore[arg-type]


@pytest.mark.parametrize("cell", [True, Decimal("NaN"), Decimal("Infinity"), 1.0, b"x"])
def test_a_cell_that_is_not_a_cell_is_refused(cell: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        Table("t", "T", ("x",), ((cell,),))  # type: ignore[arg-type]


def test_a_row_narrower_than_the_columns_is_refused_with_its_index() -> None:
    with pytest.raises(ValueError, match="row 1 has 1 cells for 2 columns"):
        Table("t", "T", ("a", "b"), (("x", 1), ("y",)))


def test_every_kind_of_cell_is_accepted() -> None:
    table = Table("t", "T", ("a", "b", "c", "d", "e"), (("x", 1, Decimal("-0.05"), date(2026, 1, 1), None),))
    assert len(table.rows) == 1


def test_two_blocks_with_one_id_are_refused_because_ids_name_them_in_csv_and_html() -> None:
    with pytest.raises(ValueError, match="'tradebook'"):
        Document("daily", "D", "", (), (Section("s", (tradebook(), BarChart("tradebook", "B", (("x", Decimal(1)),)))),))


def test_a_chart_value_that_is_a_float_is_refused() -> None:
    with pytest.raises(TypeError, match="point 0"):
        LineChart("c", "C", (("2026-01-01", 1.5),))  # type: ignore[arg-type]


def test_a_fact_that_is_a_float_is_refused() -> None:
    with pytest.raises(TypeError, match="fact 'Net'"):
        Document("pnl", "P", "", (("Net", 1.5),), ())  # type: ignore[arg-type]


def test_documents_are_frozen() -> None:
    document = daily_report()
    with pytest.raises(AttributeError):
        document.title = "changed"  # type: ignore[misc]

"""CSV export: RFC 4180 text, exact numbers, and no formula a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from kite_gateway.report_render import Document, Section, Table, to_csv
from tests.report_render.samples import daily_report, tradebook_only


def one_table(*rows: tuple[object, ...], columns: tuple[str, ...] = ("a", "b")) -> Document:
    table = Table("t", "T", columns, rows)  # type: ignore[arg-type]
    return Document("tradebook", "T", "", (), (Section("s", (table,)),))


def test_the_first_table_is_written_exactly_with_crlf_line_ends() -> None:
    assert to_csv(tradebook_only()) == (
        "Date,Symbol,Side,Quantity,Price (₹),Value (₹)\r\n"
        "2026-11-02,INFY,BUY,100,1523.45,-152345.00\r\n"
        "2026-11-03,RELIANCE,SELL,25,2890.10,72252.50\r\n"
        "2026-11-04,NIFTY26NOVFUT,SELL,75,24510.00,1838250.00\r\n"
    )


def test_a_table_is_chosen_by_id_and_a_missing_one_names_those_there_are() -> None:
    assert to_csv(daily_report(), "tradebook") == to_csv(daily_report())
    with pytest.raises(LookupError, match="'tradebook'"):
        to_csv(daily_report(), "equity")  # a chart, not a table


def test_a_document_without_tables_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="no tables"):
        to_csv(Document("daily", "Empty", "", (), ()))


def test_decimals_are_exact_dates_iso_and_none_empty() -> None:
    document = one_table(
        (Decimal("1E+3"), date(2026, 4, 1)),
        (Decimal("0.0000001"), None),
        (Decimal("-0.50"), 7),
        columns=("amount", "day"),
    )
    assert to_csv(document) == "amount,day\r\n1000,2026-04-01\r\n0.0000001,\r\n-0.50,7\r\n"


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_a_spreadsheet_would_run_as_a_formula_gets_an_apostrophe(text: str) -> None:
    row = next(csv.reader(io.StringIO(to_csv(one_table((text, "ok")))).readlines()[1:]))
    assert row == ["'" + text, "ok"]


def test_negative_numbers_stay_numbers_not_defused_text() -> None:
    assert to_csv(one_table((Decimal("-152345.00"), -5))).splitlines()[1] == "-152345.00,-5"


def test_a_header_that_looks_like_a_formula_is_defused_too() -> None:
    assert to_csv(one_table(("x", "y"), columns=("=cmd", "b"))).startswith("'=cmd,b\r\n")


def test_commas_quotes_and_newlines_are_quoted_and_read_back_unchanged() -> None:
    text = 'Tata "Motors", Ltd\nline two'
    out = to_csv(one_table((text, Decimal("1.5"))))
    assert out == 'a,b\r\n"Tata ""Motors"", Ltd\nline two",1.5\r\n'
    assert list(csv.reader(io.StringIO(out, newline=""))) == [["a", "b"], [text, "1.5"]]

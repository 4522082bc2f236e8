"""One table of a Document as CSV (RFC 4180: comma-separated, quoted where needed, CRLF line ends),
for a spreadsheet or a tax tool: the header row is the columns, numbers are exact (no exponent, no
float), dates ISO 8601, an empty cell is None.

Text that a spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage return)
gets a leading apostrophe (CSV injection); numbers never do, so a loss stays a negative number."""

from __future__ import annotations

import csv
import io

from kite_gateway.report_render.document import Cell, Document
from kite_gateway.report_render.formatting import plain_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(cell: Cell) -> str:
    """The cell as CSV text, text that could start a formula defused with an apostrophe."""
    text = plain_text(cell)
    if isinstance(cell, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(document: Document, table_id: str | None = None) -> str:
    """The table table_id (the document's first table when None) as CSV text; LookupError when the
    document has no such table (or none at all)."""
    if table_id is None:
        tables = document.tables()
        if not tables:
            raise LookupError(f"document {document.title!r} has no tables to write as CSV")
        table = tables[0]
    else:
        table = document.table(table_id)
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n")
    writer.writerow([csv_text(column) for column in table.columns])
    writer.writerows([csv_text(cell) for cell in row] for row in table.rows)
    return out.getvalue()

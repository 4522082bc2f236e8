"""Reports as documents, and their renderers: a Document (document.py) of tables, charts and notes,
written as CSV (csv_render), a standalone HTML page with inline SVG charts (html_render, svg_chart),
or a PDF (pdf_render, drawn with fpdf2). Pure code: nothing
here knows gRPC, protobuf, Kite, or what a report's numbers mean."""

from kite_gateway.report_render.csv_render import to_csv
from kite_gateway.report_render.document import (
    BarChart,
    Block,
    Cell,
    Document,
    LineChart,
    Note,
    Section,
    Table,
)
from kite_gateway.report_render.html_render import to_html
from kite_gateway.report_render.pdf_render import to_pdf

__all__ = [
    "BarChart",
    "Block",
    "Cell",
    "Document",
    "LineChart",
    "Note",
    "Section",
    "Table",
    "to_csv",
    "to_html",
    "to_pdf",
]

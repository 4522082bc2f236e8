"""A Document as one standalone HTML5 page: inline CSS, charts as inline SVG (svg_chart), no
script, nothing fetched (a Content-Security-Policy says so to the browser), readable on screen
and on paper.

Every piece of text is escaped (html.escape), whatever the report put in it. Numbers are right-
aligned in tabular figures with the Indian grouping (1,23,45,678.50), losses with a minus and in
NEGATIVE_COLOUR; the facts are a strip of headline numbers above the sections. The page is built
as a list of parts joined once, so a table of 100,000 rows costs a loop, not a quadratic copy."""

from __future__ import annotations

import html
from collections.abc import Sequence

from kite_gateway.report_render.chart_geometry import NEGATIVE_COLOUR
from kite_gateway.report_render.document import BarChart, Cell, Document, LineChart, Note, Section, Table
from kite_gateway.report_render.formatting import display_text, is_negative, is_number
from kite_gateway.report_render.svg_chart import bar_chart_svg, line_chart_svg

# No default-src: nothing from outside, not even by accident; styles are the inline sheet below.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = f"""
*{{box-sizing:border-box}}
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#111827;background:#fff;
margin:0 auto;padding:24px;max-width:1120px;line-height:1.4}}
header h1{{margin:0 0 4px;font-size:1.6rem}}
.subtitle{{margin:0 0 16px;color:#4b5563}}
.facts{{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 24px;padding:0}}
.fact{{border:1px solid #d1d5db;border-radius:6px;padding:8px 12px;min-width:140px}}
.fact dt{{font-size:.8rem;color:#4b5563;margin:0}}
.fact dd{{margin:2px 0 0;font-size:1.15rem;font-weight:600;text-align:left}}
section{{margin:0 0 32px}}
h2{{font-size:1.25rem;border-bottom:1px solid #d1d5db;padding-bottom:4px}}
table{{border-collapse:collapse;width:100%;margin:0 0 8px;font-size:.9rem}}
caption{{text-align:left;font-weight:600;padding:4px 0}}
th,td{{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}}
th{{background:#f3f4f6;font-weight:600}}
.num{{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}}
.neg{{color:{NEGATIVE_COLOUR}}}
.table-note,.note{{color:#4b5563;font-size:.85rem;margin:4px 0 16px}}
figure{{margin:0 0 16px}}
figcaption{{font-weight:600;padding:4px 0}}
svg.chart{{display:block;width:100%;max-width:760px;height:auto}}
@page{{size:A4;margin:12mm}}
@media print{{
body{{padding:0;max-width:none;font-size:10pt}}
*{{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
thead{{display:table-header-group}}
tr,figure,.facts{{break-inside:avoid}}
h2,caption,figcaption{{break-after:avoid}}
.fact{{border-color:#9ca3af}}
}}
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


NUM_CLASS = ' class="num"'


def _cell_class(cell: Cell, numeric_column: bool) -> str:
    if is_negative(cell):
        return ' class="num neg"'
    return NUM_CLASS if is_number(cell) or (cell is None and numeric_column) else ""


def _numeric_columns(table: Table) -> list[bool]:
    """A column is numeric (right-aligned header) when it has a number and no text."""
    numeric = [False] * len(table.columns)
    texty = [False] * len(table.columns)
    for row in table.rows:
        for index, cell in enumerate(row):
            if is_number(cell):
                numeric[index] = True
            elif cell is not None:
                texty[index] = True
    return [n and not t for n, t in zip(numeric, texty, strict=True)]


def _table(out: list[str], table: Table) -> None:
    numeric = _numeric_columns(table)
    out.append(f'<table id="{_esc(table.id)}"><caption>{_esc(table.title)}</caption><thead><tr>')
    out.extend(
        f'<th scope="col"{NUM_CLASS if is_num else ""}>{_esc(column)}</th>'
        for column, is_num in zip(table.columns, numeric, strict=True)
    )
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append(
            "<tr>"
            + "".join(
                f"<td{_cell_class(cell, is_num)}>{_esc(display_text(cell))}</td>"
                for cell, is_num in zip(row, numeric, strict=True)
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    if table.note:
        out.append(f'<p class="table-note">{_esc(table.note)}</p>')


def _chart(out: list[str], chart: LineChart | BarChart) -> None:
    svg = line_chart_svg(chart) if isinstance(chart, LineChart) else bar_chart_svg(chart)
    out.append(f"<figure><figcaption>{_esc(chart.title)}</figcaption>{svg}</figure>")


def _section(out: list[str], section: Section) -> None:
    out.append(f"<section><h2>{_esc(section.heading)}</h2>")
    for block in section.blocks:
        if isinstance(block, Table):
            _table(out, block)
        elif isinstance(block, LineChart | BarChart):
            _chart(out, block)
        elif isinstance(block, Note):
            out.append(f'<p class="note">{_esc(block.text)}</p>')
    out.append("</section>")


def _facts(out: list[str], facts: Sequence[tuple[str, Cell]]) -> None:
    if not facts:
        return
    out.append('<dl class="facts">')
    out.extend(
        f'<div class="fact"><dt>{_esc(label)}</dt><dd{_cell_class(value, False)}>{_esc(display_text(value))}</dd></div>'
        for label, value in facts
    )
    out.append("</dl>")


def to_html(document: Document) -> str:
    """The whole page, from <!DOCTYPE html> to </html>."""
    out: list[str] = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_esc(CONTENT_SECURITY_POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(document.title)}</title><style>{STYLE}</style></head>",
        f'<body data-kind="{_esc(document.kind)}"><header><h1>{_esc(document.title)}</h1>',
    ]
    if document.subtitle:
        out.append(f'<p class="subtitle">{_esc(document.subtitle)}</p>')
    _facts(out, document.facts)
    out.append("</header><main>")
    for section in document.sections:
        _section(out, section)
    out.append("</main></body></html>\n")
    return "".join(out)

"""A Document as a PDF (A4 portrait), drawn with fpdf2: pure Python, no browser. The same content
as the HTML page: the title, the facts as a strip of boxes, then each section's tables (the header
row repeated on every page a table spans, numbers right-aligned with the Indian grouping, losses in
red), charts drawn with lines and rects on chart_geometry's scale and colours, and notes.

Text is set in DejaVu Sans when the machine has it (Debian's fonts-dejavu-core, which Chromium and
fontconfig bring along), so "₹" and "—" print; without a Unicode font it falls back to the PDF's
built-in Helvetica, which is Latin-1 only: "₹" becomes "Rs." and other such characters "?".

Given `created`, the output is byte-for-byte reproducible (it names the creation date and the
document id derived from it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from kite_gateway.report_render.chart_geometry import (
    AXIS_COLOUR,
    GAIN_COLOUR,
    GRID_COLOUR,
    LINE_COLOUR,
    LOSS_COLOUR,
    NEGATIVE_COLOUR,
    TEXT_COLOUR,
    ZERO_COLOUR,
    Scale,
    bar_ticks,
    line_ticks,
    tick_label,
    x_label_indexes,
)
from kite_gateway.report_render.document import BarChart, Cell, Document, LineChart, Note, Section, Table
from kite_gateway.report_render.formatting import display_text, is_negative, is_number

MARGIN = 12.0  # mm
ROW_HEIGHT = 5.0
CHART_HEIGHT = 70.0
TABLE_FONT_SIZE = 8.0
FAMILY = "report"
FONT_CANDIDATES: tuple[tuple[Path, Path], ...] = (
    (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ),
    (Path("/usr/share/fonts/TTF/DejaVuSans.ttf"), Path("/usr/share/fonts/TTF/DejaVuSans-Bold.ttf")),
    (Path("/Library/Fonts/DejaVuSans.ttf"), Path("/Library/Fonts/DejaVuSans-Bold.ttf")),
)
# Beyond Latin-1, by code point (the rupee, dashes and the minus sign, curly quotes, the ellipsis).
LATIN1_STAND_INS = {
    "\u20b9": "Rs.",
    "\u2014": "-",
    "\u2013": "-",
    "\u2212": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
}


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def unicode_font() -> tuple[Path, Path] | None:
    """The first regular and bold pair of FONT_CANDIDATES that exists, or None."""
    for regular, bold in FONT_CANDIDATES:
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


@dataclass
class _Pen:
    """The PDF being drawn, and how it sets text (a Unicode font or Latin-1 Helvetica)."""

    pdf: FPDF
    unicode: bool

    def text(self, text: str) -> str:
        if self.unicode:
            return text
        for char, stand_in in LATIN1_STAND_INS.items():
            text = text.replace(char, stand_in)
        return text.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(FAMILY if self.unicode else "helvetica", "B" if bold else "", size)

    def colour(self, text: str | None = None, draw: str | None = None, fill: str | None = None) -> None:
        if text is not None:
            self.pdf.set_text_color(*_rgb(text))
        if draw is not None:
            self.pdf.set_draw_color(*_rgb(draw))
        if fill is not None:
            self.pdf.set_fill_color(*_rgb(fill))

    def width(self, text: str) -> float:
        return float(self.pdf.get_string_width(self.text(text)))

    def fit(self, text: str, width: float) -> str:
        """The text, cut with "..." when it is wider than width."""
        if self.width(text) <= width:
            return text
        while text and self.width(text + "...") > width:
            text = text[:-1]
        return text + "..."

    def line(self, text: str, height: float, size: float, bold: bool = False, colour: str = "#111827") -> None:
        self.font(size, bold)
        self.colour(text=colour)
        self.pdf.multi_cell(0, height, self.text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    @property
    def content_width(self) -> float:
        return float(self.pdf.w - self.pdf.l_margin - self.pdf.r_margin)


def _facts(pen: _Pen, facts: Sequence[tuple[str, Cell]]) -> None:
    if not facts:
        return
    pdf, gap, height = pen.pdf, 3.0, 12.0
    x, y = pdf.l_margin, pdf.y + 2
    for label, value in facts:
        text = display_text(value)
        pen.font(8)
        label_width = pen.width(label)
        pen.font(11, bold=True)
        box = max(label_width, pen.width(text)) + 6
        if x + box > pdf.w - pdf.r_margin and x > pdf.l_margin:
            x, y = pdf.l_margin, y + height + gap
        pen.colour(draw="#9ca3af")
        pdf.set_line_width(0.2)
        pdf.rect(x, y, box, height)
        pen.font(8)
        pen.colour(text="#4b5563")
        pdf.set_xy(x + 3, y + 1.5)
        pdf.cell(box - 6, 4, pen.text(label))
        pen.font(11, bold=True)
        pen.colour(text=NEGATIVE_COLOUR if is_negative(value) else "#111827")
        pdf.set_xy(x + 3, y + 6)
        pdf.cell(box - 6, 5, pen.text(text))
        x += box + gap
    pdf.set_xy(pdf.l_margin, y + height + 6)


def _column_widths(pen: _Pen, table: Table) -> list[float]:
    """Each column as wide as its longest text (measured once), all scaled to the page's width."""
    widths = []
    for index, column in enumerate(table.columns):
        pen.font(TABLE_FONT_SIZE, bold=True)
        header = pen.width(column)
        longest = max((display_text(row[index]) for row in table.rows), key=len, default="")
        pen.font(TABLE_FONT_SIZE)
        widths.append(max(header, pen.width(longest), 6.0) + 4)
    scale = pen.content_width / sum(widths) if widths else 1.0
    return [width * scale for width in widths]


def _table_header(pen: _Pen, table: Table, widths: Sequence[float], numeric: Sequence[bool]) -> None:
    pen.font(TABLE_FONT_SIZE, bold=True)
    pen.colour(text="#111827", fill="#f3f4f6", draw="#d1d5db")
    for column, width, is_num in zip(table.columns, widths, numeric, strict=True):
        pen.pdf.cell(
            width,
            ROW_HEIGHT + 1,
            pen.text(pen.fit(column, width - 2)),
            border="B",
            fill=True,
            align="R" if is_num else "L",
        )
    pen.pdf.ln(ROW_HEIGHT + 1)


def _table(pen: _Pen, table: Table) -> None:
    pdf = pen.pdf
    if pdf.will_page_break(4 * ROW_HEIGHT):
        pdf.add_page()
    pen.line(table.title, 6, 10, bold=True)
    widths = _column_widths(pen, table)
    numeric = [any(is_number(row[i]) for row in table.rows) for i in range(len(table.columns))]
    _table_header(pen, table, widths, numeric)
    pen.colour(draw="#e5e7eb")
    for row in table.rows:
        if pdf.will_page_break(ROW_HEIGHT):
            pdf.add_page()
            _table_header(pen, table, widths, numeric)
            pen.colour(draw="#e5e7eb")
        pen.font(TABLE_FONT_SIZE)
        for cell, width in zip(row, widths, strict=True):
            pen.colour(text=NEGATIVE_COLOUR if is_negative(cell) else "#111827")
            text = pen.fit(display_text(cell), width - 2)
            pdf.cell(width, ROW_HEIGHT, pen.text(text), border="B", align="R" if is_number(cell) else "L")
        pdf.ln(ROW_HEIGHT)
    pdf.ln(2)
    if table.note:
        pen.line(table.note, 4.5, 8, colour="#4b5563")
    pdf.ln(3)


def _chart(pen: _Pen, chart: LineChart | BarChart) -> None:
    pdf = pen.pdf
    if pdf.will_page_break(CHART_HEIGHT + 8):
        pdf.add_page()
    pen.line(chart.title, 6, 10, bold=True)
    series = chart.points if isinstance(chart, LineChart) else chart.bars
    values = [Decimal(value) for _, value in series]
    ticks = line_ticks(values) if isinstance(chart, LineChart) else bar_ticks(values)
    labels = [tick_label(tick, chart.y_label) for tick in ticks]
    pen.font(7)
    top_y = pdf.y
    left = pdf.l_margin + max((pen.width(label) for label in labels), default=4) + 3
    right = pdf.l_margin + min(pen.content_width, 190.0) - 8
    top, bottom = top_y + 5, top_y + CHART_HEIGHT - 10
    pen.colour(text=TEXT_COLOUR)
    pdf.text(left - pen.width(chart.y_label) / 2, top_y + 2.5, pen.text(chart.y_label))
    if not values:
        pdf.text((left + right) / 2 - pen.width("No data") / 2, (top + bottom) / 2, "No data")
    else:
        scale = Scale(ticks, top, bottom)
        pdf.set_line_width(0.2)
        for tick, label in zip(ticks, labels, strict=True):
            y = scale.y(tick)
            pen.colour(draw=GRID_COLOUR)
            pdf.line(left, y, right, y)
            pdf.text(left - 1.5 - pen.width(label), y + 1.0, pen.text(label))
        count = len(values)
        if isinstance(chart, LineChart):
            xs = (
                [left + (right - left) / 2]
                if count == 1
                else [left + i * (right - left) / (count - 1) for i in range(count)]
            )
            ys = [scale.y(value) for value in values]
            if scale.holds_zero():
                pen.colour(draw=ZERO_COLOUR)
                pdf.set_line_width(0.4)
                pdf.line(left, scale.y(Decimal(0)), right, scale.y(Decimal(0)))
            pen.colour(draw=LINE_COLOUR, fill=LINE_COLOUR)
            if count == 1:
                pdf.rect(xs[0] - 0.8, ys[0] - 0.8, 1.6, 1.6, style="F")
            else:
                pdf.set_line_width(0.7)
                pdf.polyline(list(zip(xs, ys, strict=True)))
        else:
            band = (right - left) / count
            zero = scale.y(Decimal(0))
            xs = []
            for index, value in enumerate(values):
                x = left + index * band
                xs.append(x + band / 2)
                y = scale.y(value)
                pen.colour(fill=LOSS_COLOUR if value < 0 else GAIN_COLOUR)
                if y != zero:
                    pdf.rect(x + band * 0.15, min(y, zero), band * 0.7, abs(y - zero), style="F")
            pen.colour(draw=ZERO_COLOUR)
            pdf.set_line_width(0.4)
            pdf.line(left, zero, right, zero)
        pen.colour(draw=AXIS_COLOUR, text=TEXT_COLOUR)
        pdf.set_line_width(0.2)
        names = [label for label, _ in series]
        for index in x_label_indexes(count):
            pdf.line(xs[index], bottom, xs[index], bottom + 1.2)
            pdf.text(xs[index] - pen.width(names[index]) / 2, bottom + 4.5, pen.text(names[index]))
    pen.colour(draw=AXIS_COLOUR)
    pdf.set_line_width(0.2)
    pdf.line(left, top, left, bottom)
    pdf.line(left, bottom, right, bottom)
    pdf.set_xy(pdf.l_margin, top_y + CHART_HEIGHT)


def _section(pen: _Pen, section: Section) -> None:
    if pen.pdf.will_page_break(20):
        pen.pdf.add_page()
    pen.line(section.heading, 8, 13, bold=True)
    pen.colour(draw="#d1d5db")
    pen.pdf.set_line_width(0.3)
    pen.pdf.line(pen.pdf.l_margin, pen.pdf.y, pen.pdf.w - pen.pdf.r_margin, pen.pdf.y)
    pen.pdf.ln(3)
    for block in section.blocks:
        if isinstance(block, Table):
            _table(pen, block)
        elif isinstance(block, LineChart | BarChart):
            _chart(pen, block)
        elif isinstance(block, Note):
            pen.line(block.text, 4.5, 8, colour="#4b5563")
            pen.pdf.ln(2)
    pen.pdf.ln(4)


def to_pdf(document: Document, *, created: datetime | None = None) -> bytes:
    """The document as PDF bytes; `created` (default now) is its creation date, for reproducible output."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN)
    pdf.set_creation_date(created or datetime.now(UTC))
    fonts = unicode_font()
    if fonts is not None:
        pdf.add_font(FAMILY, "", fonts[0])
        pdf.add_font(FAMILY, "B", fonts[1])
    pen = _Pen(pdf, unicode=fonts is not None)
    pdf.set_title(pen.text(document.title))
    pdf.set_subject(pen.text(document.kind))
    pdf.add_page()
    pen.line(document.title, 9, 16, bold=True)
    if document.subtitle:
        pen.line(document.subtitle, 6, 10, colour="#4b5563")
    _facts(pen, document.facts)
    for section in document.sections:
        _section(pen, section)
    return bytes(pdf.output())

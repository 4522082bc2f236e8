"""The PDF: reproducible bytes, pages that repeat a long table's header, and charts whose rects and
lines lie where the data puts them, read back from the page streams (zlib) without a PDF library.
Skips when fpdf2 (a dependency in pyproject.toml) is not installed in this environment."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kite_gateway.report_render import BarChart, Document, LineChart, Note, Section, Table
from kite_gateway.report_render.chart_geometry import GAIN_COLOUR, LINE_COLOUR, LOSS_COLOUR, ZERO_COLOUR
from tests.report_render.samples import daily_report, rising_curve, tradebook

pytest.importorskip(
    "fpdf", reason="fpdf2 is not installed here: it is a dependency in pyproject.toml (pip install -e . installs it)"
)

from kite_gateway.report_render import pdf_render

CREATED = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)
Colour = tuple[int, int, int]
PATH_PART = re.compile(r"(-?[\d.]+) (-?[\d.]+) ([ml])")
PATH_LINE = re.compile(r"\s*(?:-?[\d.]+ -?[\d.]+ [ml]\s*)*S?\s*")  # moves and lines, maybe a stroke


def rgb(colour: str) -> Colour:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@dataclass
class Drawing:
    """A page's filled rects and stroked paths, in PDF points (y grows upwards), with their colours."""

    rects: list[tuple[Colour, float, float, float, float]] = field(default_factory=list)
    paths: list[tuple[Colour, list[tuple[float, float]]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def rects_in(self, colour: str) -> list[tuple[float, float]]:
        """(bottom, top) of each rect filled with colour."""
        return [(min(y, y + h), max(y, y + h)) for c, _, y, _, h in self.rects if c == rgb(colour)]

    def paths_in(self, colour: str) -> list[list[tuple[float, float]]]:
        return [points for c, points in self.paths if c == rgb(colour)]


def pages(pdf: bytes) -> list[Drawing]:
    """Each decompressed content stream that draws something, parsed line by line."""
    drawings = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(match.group(1)).decode("latin-1")
        except zlib.error:
            continue
        if " Tj" not in content and " re " not in content:
            continue  # a font or an image, not a page
        drawing, fill, stroke, path = Drawing(), (0, 0, 0), (0, 0, 0), list[tuple[float, float]]()
        for line in content.splitlines():
            words = line.split()
            if line.startswith("q ") and "Tj" in line:
                drawing.text.extend(re.findall(r"\((.*?)\) Tj", line))
            elif words[-1:] == ["rg"] and len(words) == 4:
                fill = tuple(round(float(w) * 255) for w in words[:3])  # type: ignore[assignment]
            elif words[-1:] == ["RG"] and len(words) == 4:
                stroke = tuple(round(float(w) * 255) for w in words[:3])  # type: ignore[assignment]
            elif words[-2:] == ["re", "f"]:
                x, y, w, h = (float(v) for v in words[:4])
                drawing.rects.append((fill, x, y, w, h))
            elif line.strip() and PATH_LINE.fullmatch(line):
                for x, y, operator in PATH_PART.findall(line):
                    if operator == "m":
                        path = []
                    path.append((float(x), float(y)))
                if line.rstrip().endswith("S"):
                    drawing.paths.append((stroke, path))
                    path = []
        drawings.append(drawing)
    return drawings


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def test_the_pdf_is_a_pdf_and_the_same_bytes_for_the_same_document_and_date() -> None:
    first = pdf_render.to_pdf(daily_report(), created=CREATED)
    assert first.startswith(b"%PDF-1.") and first.rstrip().endswith(b"%%EOF")
    assert first == pdf_render.to_pdf(daily_report(), created=CREATED)
    assert page_count(first) == 1


def test_gain_bars_stand_on_the_zero_line_and_loss_bars_hang_from_it() -> None:
    (page,) = pages(pdf_render.to_pdf(daily_report(), created=CREATED))
    gains, losses = page.rects_in(GAIN_COLOUR), page.rects_in(LOSS_COLOUR)
    assert len(gains) == 5 and len(losses) == 3
    zero_lines = [p for p in page.paths_in(ZERO_COLOUR) if len(p) == 2 and p[0][1] == p[1][1]]
    (zero,) = {round(p[0][1], 1) for p in zero_lines}
    assert all(bottom == pytest.approx(zero, abs=0.05) for bottom, _ in gains)
    assert all(top == pytest.approx(zero, abs=0.05) for _, top in losses)
    tallest_gain = max(top - bottom for bottom, top in gains)
    deepest_loss = max(top - bottom for bottom, top in losses)
    assert tallest_gain / deepest_loss == pytest.approx(22000 / 12750, rel=0.01)


def test_a_rising_curve_is_a_line_that_climbs_the_page() -> None:
    document = Document("pnl", "Rising", "", (), (Section("s", (rising_curve(),)),))
    (page,) = pages(pdf_render.to_pdf(document, created=CREATED))
    (line,) = page.paths_in(LINE_COLOUR)
    assert len(line) == len(rising_curve().points)
    xs, ys = [x for x, _ in line], [y for _, y in line]
    assert xs == sorted(xs) and ys == sorted(ys) and ys[-1] > ys[0]  # PDF y grows upwards


def test_a_long_table_repeats_its_header_on_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_render, "FONT_CANDIDATES", ())  # Helvetica: the text is literal in the stream
    long = Table("fills", "Fills", tradebook().columns, tradebook(300).rows)
    pdf = pdf_render.to_pdf(Document("tradebook", "Tradebook", "", (), (Section("s", (long,)),)), created=CREATED)
    drawn = pages(pdf)
    assert page_count(pdf) == len(drawn) >= 3
    assert [page.text.count("Quantity") for page in drawn] == [1] * len(drawn)
    assert sum(page.text.count("INFY") for page in drawn) == 100


def test_without_a_unicode_font_the_rupee_sign_is_written_as_rs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_render, "FONT_CANDIDATES", ())
    chart = BarChart("b", "P&L — by day", (("2026-11-02", Decimal("-1500")),))
    (page,) = pages(pdf_render.to_pdf(Document("pnl", "P&L", "", (), (Section("s", (chart,)),)), created=CREATED))
    assert "P&L - by day" in page.text and "-Rs.1,500" in page.text and "Rs." in page.text


def test_with_a_unicode_font_the_text_keeps_its_rupee_sign(tmp_path: Path) -> None:
    if pdf_render.unicode_font() is None:
        pytest.skip("no DejaVu Sans on this machine (Debian: fonts-dejavu-core)")
    pdf = pdf_render.to_pdf(daily_report(), created=CREATED)
    assert b"/FontFile2" in pdf  # the TrueType font embedded (subset), not Helvetica
    assert b"/BaseFont /Helvetica" not in pdf


def test_charts_with_no_point_one_point_or_equal_values_still_draw_a_page() -> None:
    flat = tuple((f"d{i}", Decimal("250000")) for i in range(4))
    blocks = (
        LineChart("empty", "Empty", ()),
        LineChart("one", "One", (("2026-11-02", Decimal("5")),)),
        LineChart("flat", "Flat", flat),
        BarChart("no-bars", "No bars", ()),
        BarChart("zero", "Zero", (("2026-11-02", Decimal(0)),)),
        Note("after the charts"),
    )
    pdf = pdf_render.to_pdf(Document("pnl", "Edges", "", (), (Section("s", blocks),)), created=CREATED)
    drawn = pages(pdf)
    assert page_count(pdf) == len(drawn) == 2  # five 70 mm charts do not fit one A4 page
    flat_lines = [p for d in drawn for p in d.paths_in(LINE_COLOUR) if len(p) == 4]
    assert len(flat_lines) == 1 and len({y for _, y in flat_lines[0]}) == 1
    assert sum(len(d.rects_in(LINE_COLOUR)) for d in drawn) == 1  # the one point's dot

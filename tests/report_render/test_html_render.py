"""The HTML page: standalone, escaped everywhere, numbers grouped the Indian way and aligned, every
block in its place; read back with the standard library's HTML parser."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

from kite_gateway.report_render import BarChart, Document, LineChart, Note, Section, Table, to_html
from tests.report_render.samples import daily_report, tradebook, tradebook_only


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Page(HTMLParser):
    """Every start tag with its attributes and the text directly inside it."""

    elements: list[Element] = field(default_factory=list)
    doctype: str = ""

    def __post_init__(self) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)
        self.open: list[Element] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in ("meta", "br", "line", "rect", "circle", "polyline"):
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1].text += data

    def all(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.attrs.get("class", "").split())]


def parse(document: Document) -> Page:
    page = Page()
    page.feed(to_html(document))
    page.close()
    return page


def single_table(*rows: tuple[object, ...], columns: tuple[str, ...] = ("Symbol", "P&L")) -> Document:
    return Document("pnl", "P&L", "", (), (Section("s", (Table("t", "T", columns, rows),)),))  # type: ignore[arg-type]


def test_the_page_is_a_complete_html5_document_with_its_title() -> None:
    text = to_html(daily_report())
    assert text.startswith('<!DOCTYPE html>\n<html lang="en">') and text.rstrip().endswith("</html>")
    page = parse(daily_report())
    assert page.doctype == "DOCTYPE html"
    assert page.all("title")[0].text == "Daily report — ZX1234"
    assert [e.text for e in page.all("h1")] == ["Daily report — ZX1234"]
    assert [e.text for e in page.all("h2")] == ["Performance", "Trades"]
    assert page.all("meta")[0].attrs == {"charset": "utf-8"}


def test_the_page_fetches_nothing_and_runs_nothing() -> None:
    page = parse(daily_report())
    assert not page.all("script") and not page.all("link") and not page.all("img") and not page.all("iframe")
    assert not [e for e in page.elements if {"src", "href"} & set(e.attrs)]
    (policy,) = [e for e in page.all("meta") if e.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert policy.attrs["content"].startswith("default-src 'none'")
    assert "url(" not in to_html(daily_report()) and "@import" not in to_html(daily_report())


def test_a_script_tag_in_a_symbol_is_shown_as_text_not_run() -> None:
    hostile = "<script>alert('x')</script>"
    document = Document(
        kind="tradebook",
        title=hostile,
        subtitle=hostile,
        facts=((hostile, hostile),),
        sections=(
            Section(
                hostile,
                (
                    Table('"><img src=x onerror=alert(1)>', hostile, (hostile,), ((hostile,),), note=hostile),
                    LineChart("l" + hostile, hostile, ((hostile, Decimal(1)), ("b", Decimal(2)))),
                    BarChart("b" + hostile, hostile, ((hostile, Decimal(-1)),), y_label=hostile),
                    Note(hostile),
                ),
            ),
        ),
    )
    text = to_html(document)
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    page = parse(document)
    assert not page.all("script") and not page.all("img")
    assert [e.text for e in page.all("td")] == [hostile]
    assert page.all("table")[0].attrs["id"] == '"><img src=x onerror=alert(1)>'  # an attribute, still whole


def test_amounts_are_grouped_the_indian_way_and_right_aligned() -> None:
    page = parse(single_table(("INFY", Decimal("12345678.50")), ("TCS", Decimal("-1500.00")), ("WIPRO", None)))
    cells = page.all("td")
    assert [c.text for c in cells] == ["INFY", "1,23,45,678.50", "TCS", "-1,500.00", "WIPRO", ""]
    assert [c.attrs.get("class", "") for c in cells] == ["", "num", "", "num neg", "", "num"]
    assert [h.attrs.get("class", "") for h in page.all("th")] == ["", "num"]
    assert ".num{text-align:right" in to_html(single_table(("x", 1)))


def test_a_column_with_text_in_it_is_not_aligned_as_numbers() -> None:
    page = parse(single_table(("INFY", Decimal(1)), ("TCS", "n/a")))
    assert [h.attrs.get("class", "") for h in page.all("th")] == ["", ""]
    assert page.all("td")[1].attrs["class"] == "num"  # the number itself still is


def test_facts_are_a_strip_of_labelled_values_above_the_sections() -> None:
    page = parse(daily_report())
    (strip,) = page.all("dl", "facts")
    assert [e.text for e in page.all("dt")] == ["Net P&L (₹)", "Worst day (₹)", "Trades", "As of"]
    assert [e.text for e in page.all("dd")] == ["53,400.50", "-12,750.00", "42", "2026-11-09"]
    assert page.all("dd")[1].attrs["class"] == "num neg"
    assert page.elements.index(strip) < page.elements.index(page.all("section")[0])


def test_each_chart_is_an_inline_svg_in_a_figure_and_each_table_has_its_caption_and_note() -> None:
    page = parse(daily_report())
    assert [s.attrs["id"] for s in page.all("svg")] == ["equity", "pnl-by-day"]
    assert [f.text for f in page.all("figcaption")] == ["Equity curve", "P&L by day"]
    assert [c.text for c in page.all("caption")] == ["Tradebook"]
    assert [p.text for p in page.all("p", "table-note")] == [tradebook().note]
    assert [p.text for p in page.all("p", "note")] == ["Charges are estimates until the contract note."]
    assert len(page.all("tr")) == 1 + len(tradebook().rows)


def test_the_page_prints_with_repeated_headers_and_its_colours() -> None:
    text = to_html(tradebook_only())
    assert "@media print" in text and "thead{display:table-header-group}" in text and "print-color-adjust:exact" in text


def test_a_table_of_100k_rows_renders_in_a_loop_not_in_quadratic_time() -> None:
    rows = tuple(("INFY", "BUY", i, Decimal(i) / 4) for i in range(100_000))
    document = Document("tradebook", "Big", "", (), (Section("s", (Table("t", "T", ("a", "b", "c", "d"), rows),)),))
    started = time.perf_counter()
    text = to_html(document)
    elapsed = time.perf_counter() - started
    assert text.count("<tr>") == 100_001
    assert elapsed < 10, f"100k rows took {elapsed:.1f} s"

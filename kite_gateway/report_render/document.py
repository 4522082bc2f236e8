"""A report as data, independent of how it is shown: a title, a strip of facts, and sections of
tables, charts and notes. The report builders (tradebook, P&L, tax P&L, daily report) produce a
`Document`; the renderers (CSV, HTML, PDF) read one and know nothing of what a report means.

Everything is frozen and checked once when built: a cell is text, an int, a Decimal (money and
quantities, never float), a date, or None (empty); every row is as wide as its columns; and every
table and chart has its own id (the CSV export names a table by it, the HTML page uses it as an
element id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

Cell = str | int | Decimal | date | None


def check_cell(value: object, where: str) -> None:
    """Refuse what is not a Cell: a float (money is Decimal), a bool, a NaN or infinite Decimal."""
    if value is None or isinstance(value, str | date):
        return
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"{where}: a cell is str, int, Decimal, date or None, not {type(value).__name__} {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"{where}: a Decimal cell must be finite, not {value}")


def _check_series(pairs: tuple[tuple[str, Decimal], ...], kind: str, id: str) -> None:
    for index, (label, value) in enumerate(pairs):
        if not isinstance(label, str):
            raise TypeError(f"{kind} {id!r} point {index}: the label is str, not {type(label).__name__}")
        if isinstance(value, bool) or not isinstance(value, Decimal | int) or not Decimal(value).is_finite():
            raise TypeError(f"{kind} {id!r} point {index}: the value is a finite Decimal, not {value!r}")


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""

    def __post_init__(self) -> None:
        width = len(self.columns)
        for index, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"table {self.id!r} row {index} has {len(row)} cells for {width} columns")
            for cell in row:
                check_cell(cell, f"table {self.id!r} row {index}")


@dataclass(frozen=True)
class LineChart:
    """A series in order, e.g. an equity curve (label = ISO date, value = ₹)."""

    id: str
    title: str
    points: tuple[tuple[str, Decimal], ...]
    y_label: str = "₹"

    def __post_init__(self) -> None:
        _check_series(self.points, "line chart", self.id)


@dataclass(frozen=True)
class BarChart:
    """One bar per label, negative bars allowed: P&L by day, exposure by segment."""

    id: str
    title: str
    bars: tuple[tuple[str, Decimal], ...]
    y_label: str = "₹"

    def __post_init__(self) -> None:
        _check_series(self.bars, "bar chart", self.id)


@dataclass(frozen=True)
class Note:
    text: str


Block = Table | LineChart | BarChart | Note


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    """kind names the report ("tradebook", "pnl", "tax_pnl", "daily"); facts are the headline
    numbers shown as a strip above the sections (label, value)."""

    kind: str
    title: str
    subtitle: str
    facts: tuple[tuple[str, Cell], ...]
    sections: tuple[Section, ...]

    def __post_init__(self) -> None:
        for label, value in self.facts:
            check_cell(value, f"fact {label!r}")
        seen: set[str] = set()
        for section in self.sections:
            for block in section.blocks:
                if isinstance(block, Note):
                    continue
                if block.id in seen:
                    raise ValueError(f"document {self.title!r}: two tables or charts have the id {block.id!r}")
                seen.add(block.id)

    def tables(self) -> tuple[Table, ...]:
        """Every table, in the order the sections show them."""
        return tuple(block for section in self.sections for block in section.blocks if isinstance(block, Table))

    def table(self, id: str) -> Table:
        """The table with this id; LookupError (not KeyError) naming the ids there are."""
        tables = self.tables()
        for table in tables:
            if table.id == id:
                return table
        available = ", ".join(repr(table.id) for table in tables) or "none"
        raise LookupError(f"document {self.title!r} has no table {id!r} (its tables: {available})")

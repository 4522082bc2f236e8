"""What a chart's picture is, whatever draws it (SVG for HTML, lines and rects for PDF): the y
scale with ticks at round values (1, 2 or 5 times a power of ten, computed in Decimal so the labels
are exact), which x labels to show (at most MAX_X_LABELS), and the colours.

A bar chart's range always holds 0 (bars start there; gains rise in GAIN_COLOUR, losses fall in
LOSS_COLOUR); a line chart's range is its data's (an equity curve far from 0 keeps its shape), with
a zero line wherever 0 is in range. Equal values widen the range, so nothing divides by zero."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from kite_gateway.report_render.formatting import indian_number, rupees

TICK_TARGET = 5
MAX_X_LABELS = 8

LINE_COLOUR = "#2563eb"
GAIN_COLOUR = "#16a34a"
LOSS_COLOUR = "#dc2626"
AXIS_COLOUR = "#374151"
GRID_COLOUR = "#e5e7eb"
ZERO_COLOUR = "#111827"
TEXT_COLOUR = "#374151"
NEGATIVE_COLOUR = "#b91c1c"  # a loss in a table or a fact: not LOSS_COLOUR, so a screenshot tells text from bars


def nice_ticks(low: Decimal, high: Decimal, target: int = TICK_TARGET) -> tuple[Decimal, ...]:
    """Round tick values covering [low, high], about target intervals; equal ends are widened first."""
    if low > high:
        low, high = high, low
    if low == high:
        pad = abs(low) / 10 if low else Decimal(1)
        low, high = low - pad, high + pad
    raw = (high - low) / target
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = magnitude * 10
    for factor in (1, 2, 5):
        if magnitude * factor >= raw:
            step = magnitude * factor
            break
    first = (low / step).to_integral_value(ROUND_FLOOR)
    last = (high / step).to_integral_value(ROUND_CEILING)
    return tuple((first + i) * step for i in range(int(last - first) + 1))


@dataclass(frozen=True)
class Scale:
    """Values to pixels on the y axis: ticks[0] at bottom, ticks[-1] at top."""

    ticks: tuple[Decimal, ...]
    top: float
    bottom: float

    @property
    def low(self) -> Decimal:
        return self.ticks[0]

    @property
    def high(self) -> Decimal:
        return self.ticks[-1]

    def y(self, value: Decimal) -> float:
        share = float((Decimal(value) - self.low) / (self.high - self.low))
        return self.bottom - share * (self.bottom - self.top)

    def holds_zero(self) -> bool:
        return self.low <= 0 <= self.high


def tick_label(value: Decimal, y_label: str) -> str:
    """A tick or value label: rupees when the axis is in ₹, else the number grouped the Indian way."""
    return rupees(value) if y_label == "₹" else indian_number(value)


def x_label_indexes(count: int) -> list[int]:
    """Which of count labels to show: all when few, else evenly spread with the first and the last."""
    if count <= MAX_X_LABELS:
        return list(range(count))
    return sorted({round(i * (count - 1) / (MAX_X_LABELS - 1)) for i in range(MAX_X_LABELS)})


def line_ticks(values: Sequence[Decimal]) -> tuple[Decimal, ...]:
    """A line chart's ticks: its data's range (none without data)."""
    return nice_ticks(min(values), max(values)) if values else ()


def bar_ticks(values: Sequence[Decimal]) -> tuple[Decimal, ...]:
    """A bar chart's ticks: its data's range stretched to hold 0 (none without data)."""
    return nice_ticks(min(*values, Decimal(0)), max(*values, Decimal(0))) if values else ()

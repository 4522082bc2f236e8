"""Charts as inline SVG drawn here, on the server: no JavaScript, no fetches, the same picture in a
browser, a mail client that shows HTML, and on paper. The scale, ticks and colours are
chart_geometry's (shared with the PDF); this module only writes the SVG elements. No point draws
"No data", one point a dot."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kite_gateway.report_render.chart_geometry import (
    AXIS_COLOUR,
    GAIN_COLOUR,
    GRID_COLOUR,
    LINE_COLOUR,
    LOSS_COLOUR,
    TEXT_COLOUR,
    ZERO_COLOUR,
    Scale,
    bar_ticks,
    line_ticks,
    tick_label,
    x_label_indexes,
)
from kite_gateway.report_render.document import BarChart, LineChart

WIDTH = 760
HEIGHT = 320
TOP = 28  # room for the y label above the plot
BOTTOM = 44  # room for the x labels
RIGHT = 44  # half a date label, so the last one is not cut
CHAR_WIDTH = 7  # of the 12px tick labels, to size the left margin


@dataclass(frozen=True)
class Frame:
    """The plot area inside the chart, in SVG user units."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left


def _frame_for(labels: Sequence[str]) -> Frame:
    widest = max((len(label) for label in labels), default=1)
    return Frame(left=widest * CHAR_WIDTH + 16, top=TOP, right=WIDTH - RIGHT, bottom=HEIGHT - BOTTOM)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _f(number: float) -> str:
    return f"{number:.2f}"


def _open(out: list[str], chart_id: str, title: str, description: str) -> None:
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{_esc(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{_esc(title)}"'
        f' aria-describedby="{_esc(chart_id)}-desc" font-family="sans-serif" font-size="12">'
        f'<title id="{_esc(chart_id)}-title">{_esc(title)}</title>'
        f'<desc id="{_esc(chart_id)}-desc">{_esc(description)}</desc>'
    )


def _axes(out: list[str], frame: Frame, scale: Scale | None, y_label: str, zero_line: bool = True) -> None:
    """Grid and labelled ticks (when there is a scale), the zero line (unless the caller draws it
    later, over its bars), then the two axes on top."""
    if scale is not None:
        for tick in scale.ticks:
            y = _f(scale.y(tick))
            out.append(
                f'<line class="grid" x1="{_f(frame.left)}" y1="{y}" x2="{_f(frame.right)}" y2="{y}"'
                f' stroke="{GRID_COLOUR}" stroke-width="1"/>'
                f'<text class="y-tick" x="{_f(frame.left - 6)}" y="{y}" text-anchor="end" dominant-baseline="middle"'
                f' fill="{TEXT_COLOUR}">{_esc(tick_label(tick, y_label))}</text>'
            )
        if zero_line and scale.holds_zero():
            y = _f(scale.y(Decimal(0)))
            out.append(
                f'<line class="zero" x1="{_f(frame.left)}" y1="{y}" x2="{_f(frame.right)}" y2="{y}"'
                f' stroke="{ZERO_COLOUR}" stroke-width="1.5"/>'
            )
    out.append(
        f'<text class="y-label" x="{_f(frame.left)}" y="{TOP - 12}" text-anchor="middle" fill="{TEXT_COLOUR}">'
        f"{_esc(y_label)}</text>"
        f'<line class="axis" x1="{_f(frame.left)}" y1="{_f(frame.top)}" x2="{_f(frame.left)}" y2="{_f(frame.bottom)}"'
        f' stroke="{AXIS_COLOUR}" stroke-width="1"/>'
        f'<line class="axis" x1="{_f(frame.left)}" y1="{_f(frame.bottom)}" x2="{_f(frame.right)}"'
        f' y2="{_f(frame.bottom)}" stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )


def _x_labels(out: list[str], frame: Frame, labels: Sequence[str], xs: Sequence[float]) -> None:
    for index in x_label_indexes(len(labels)):
        x = _f(xs[index])
        out.append(
            f'<line class="x-tick" x1="{x}" y1="{_f(frame.bottom)}" x2="{x}" y2="{_f(frame.bottom + 5)}"'
            f' stroke="{AXIS_COLOUR}" stroke-width="1"/>'
            f'<text class="x-tick" x="{x}" y="{_f(frame.bottom + 20)}" text-anchor="middle" fill="{TEXT_COLOUR}">'
            f"{_esc(labels[index])}</text>"
        )


def _no_data(out: list[str], frame: Frame) -> None:
    out.append(
        f'<text class="no-data" x="{_f((frame.left + frame.right) / 2)}" y="{_f((frame.top + frame.bottom) / 2)}"'
        f' text-anchor="middle" fill="{TEXT_COLOUR}">No data</text>'
    )


def _describe(series: Sequence[tuple[str, Decimal]], y_label: str, noun: str) -> str:
    if not series:
        return "No data."
    values = [value for _, value in series]
    return (
        f"{len(series)} {noun}{'' if len(series) == 1 else 's'}, from {series[0][0]} to {series[-1][0]};"
        f" lowest {tick_label(min(values), y_label)}, highest {tick_label(max(values), y_label)}."
    )


def line_chart_svg(chart: LineChart) -> str:
    """The chart as one <svg> element: a polyline (class "series") in LINE_COLOUR, a dot for one point."""
    values = [Decimal(value) for _, value in chart.points]
    scale_ticks = line_ticks(values)
    frame = _frame_for([tick_label(tick, chart.y_label) for tick in scale_ticks])
    scale = Scale(scale_ticks, frame.top, frame.bottom) if values else None
    out: list[str] = []
    _open(out, chart.id, chart.title, _describe(chart.points, chart.y_label, "point"))
    _axes(out, frame, scale, chart.y_label)
    if scale is None:
        _no_data(out, frame)
    else:
        count = len(values)
        if count == 1:
            xs = [frame.left + frame.width / 2]
        else:
            xs = [frame.left + i * frame.width / (count - 1) for i in range(count)]
        ys = [scale.y(value) for value in values]
        if count == 1:
            out.append(f'<circle class="series" cx="{_f(xs[0])}" cy="{_f(ys[0])}" r="4" fill="{LINE_COLOUR}"/>')
        else:
            points = " ".join(f"{_f(x)},{_f(y)}" for x, y in zip(xs, ys, strict=True))
            out.append(
                f'<polyline class="series" points="{points}" fill="none" stroke="{LINE_COLOUR}" stroke-width="3"'
                ' stroke-linejoin="round" stroke-linecap="round"/>'
            )
        _x_labels(out, frame, [label for label, _ in chart.points], xs)
    out.append("</svg>")
    return "".join(out)


def bar_chart_svg(chart: BarChart) -> str:
    """The chart as one <svg> element: a <rect> per bar from the zero line, class "bar gain" in
    GAIN_COLOUR above it or "bar loss" in LOSS_COLOUR below, each with a <title> for its value."""
    values = [Decimal(value) for _, value in chart.bars]
    scale_ticks = bar_ticks(values)
    frame = _frame_for([tick_label(tick, chart.y_label) for tick in scale_ticks])
    scale = Scale(scale_ticks, frame.top, frame.bottom) if values else None
    out: list[str] = []
    _open(out, chart.id, chart.title, _describe(chart.bars, chart.y_label, "bar"))
    if scale is None:
        _axes(out, frame, None, chart.y_label)
        _no_data(out, frame)
    else:
        _axes(out, frame, scale, chart.y_label, zero_line=False)
        band = frame.width / len(values)
        zero = scale.y(Decimal(0))
        centres: list[float] = []
        for index, ((label, _), value) in enumerate(zip(chart.bars, values, strict=True)):
            x = frame.left + index * band
            centres.append(x + band / 2)
            y = scale.y(value)
            kind, colour = ("loss", LOSS_COLOUR) if value < 0 else ("gain", GAIN_COLOUR)
            out.append(
                f'<rect class="bar {kind}" x="{_f(x + band * 0.15)}" y="{_f(min(y, zero))}" width="{_f(band * 0.7)}"'
                f' height="{_f(abs(y - zero))}" fill="{colour}"><title>{_esc(label)}: '
                f"{_esc(tick_label(value, chart.y_label))}</title></rect>"
            )
        # The zero line over the bars' feet, so it reads as one line.
        out.append(
            f'<line class="zero" x1="{_f(frame.left)}" y1="{_f(zero)}" x2="{_f(frame.right)}" y2="{_f(zero)}"'
            f' stroke="{ZERO_COLOUR}" stroke-width="1.5"/>'
        )
        _x_labels(out, frame, [label for label, _ in chart.bars], centres)
    out.append("</svg>")
    return "".join(out)

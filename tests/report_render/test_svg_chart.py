"""The charts' geometry, read back from the SVG as XML: where bars, lines and the zero line lie."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from kite_gateway.report_render import BarChart, LineChart
from kite_gateway.report_render.chart_geometry import (
    GAIN_COLOUR,
    LINE_COLOUR,
    LOSS_COLOUR,
    MAX_X_LABELS,
    nice_ticks,
)
from kite_gateway.report_render.svg_chart import bar_chart_svg, line_chart_svg
from tests.report_render.samples import pnl_by_day, rising_curve

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def with_class(root: ET.Element, tag: str, name: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if name in (e.get("class") or "").split()]


def zero_y(root: ET.Element) -> float:
    (line,) = with_class(root, "line", "zero")
    assert line.get("y1") == line.get("y2")
    return float(line.get("y1", "nan"))


def polyline(root: ET.Element) -> list[tuple[float, float]]:
    (line,) = with_class(root, "polyline", "series")
    return [(float(x), float(y)) for x, y in (pair.split(",") for pair in line.get("points", "").split())]


def test_a_gain_and_a_loss_bar_lie_on_opposite_sides_of_the_zero_line() -> None:
    root = parse(bar_chart_svg(BarChart("b", "B", (("up", Decimal("500")), ("down", Decimal("-300"))))))
    zero = zero_y(root)
    (gain,) = with_class(root, "rect", "gain")
    (loss,) = with_class(root, "rect", "loss")
    gain_top, gain_height = float(gain.get("y", "nan")), float(gain.get("height", "nan"))
    loss_top, loss_height = float(loss.get("y", "nan")), float(loss.get("height", "nan"))
    assert gain_top + gain_height == pytest.approx(zero) and gain_top < zero  # rises from zero (y grows down)
    assert loss_top == pytest.approx(zero) and loss_height > 0  # falls from zero
    assert gain_height / loss_height == pytest.approx(500 / 300, rel=1e-3)  # heights in proportion
    assert gain.get("fill") == GAIN_COLOUR and loss.get("fill") == LOSS_COLOUR != GAIN_COLOUR


def test_a_rising_equity_curve_goes_up_the_page_from_left_to_right() -> None:
    points = polyline(parse(line_chart_svg(rising_curve())))
    assert len(points) == len(rising_curve().points)
    xs, ys = [x for x, _ in points], [y for _, y in points]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert ys == sorted(ys, reverse=True) and ys[0] > ys[-1]  # SVG y grows downwards


def test_the_line_is_drawn_in_the_line_colour_inside_the_plot() -> None:
    root = parse(line_chart_svg(rising_curve()))
    (line,) = with_class(root, "polyline", "series")
    assert line.get("stroke") == LINE_COLOUR
    width, height = (float(v) for v in root.get("viewBox", "").split()[2:])
    assert all(0 < x < width and 0 < y < height for x, y in polyline(root))


def test_every_bar_chart_has_a_zero_line_even_when_all_bars_are_gains() -> None:
    root = parse(bar_chart_svg(BarChart("b", "B", (("a", Decimal(5)), ("b", Decimal(9))))))
    zero = zero_y(root)
    assert all(
        float(r.get("y", "0")) + float(r.get("height", "0")) == pytest.approx(zero) for r in root.iter(SVG + "rect")
    )


def test_ticks_are_labelled_round_values_in_rupees_with_the_indian_grouping() -> None:
    root = parse(bar_chart_svg(pnl_by_day()))
    labels = [t.text for t in with_class(root, "text", "y-tick")]
    assert labels == ["-₹20,000", "-₹10,000", "₹0", "₹10,000", "₹20,000", "₹30,000"]


def test_nice_ticks_cover_the_range_in_steps_of_one_two_or_five() -> None:
    assert nice_ticks(Decimal("-12750"), Decimal("22000")) == tuple(Decimal(v) for v in range(-20000, 30001, 10000))
    assert nice_ticks(Decimal("0"), Decimal("0.9")) == tuple(Decimal(v) / 5 for v in range(6))
    assert nice_ticks(Decimal("1004250"), Decimal("1053400")) == tuple(
        Decimal(v) for v in range(1000000, 1060001, 10000)
    )


@pytest.mark.parametrize("value", [Decimal("0"), Decimal("250000.75"), Decimal("-40")])
def test_equal_values_draw_a_flat_line_without_dividing_by_zero(value: Decimal) -> None:
    chart = LineChart("c", "C", tuple((f"d{i}", value) for i in range(3)))
    ys = {y for _, y in polyline(parse(line_chart_svg(chart)))}
    assert len(ys) == 1
    ticks = nice_ticks(value, value)
    assert ticks[0] < value < ticks[-1]


def test_one_point_is_a_dot_and_no_points_say_no_data() -> None:
    one = parse(line_chart_svg(LineChart("c", "C", (("2026-01-01", Decimal("10")),))))
    assert len(with_class(one, "circle", "series")) == 1 and not with_class(one, "polyline", "series")
    for empty in (line_chart_svg(LineChart("c", "C", ())), bar_chart_svg(BarChart("b", "B", ()))):
        root = parse(empty)
        assert [t.text for t in with_class(root, "text", "no-data")] == ["No data"]
        assert not list(root.iter(SVG + "rect")) and not list(root.iter(SVG + "polyline"))


def test_a_single_zero_bar_has_a_range_around_zero() -> None:
    root = parse(bar_chart_svg(BarChart("b", "B", (("flat", Decimal(0)),))))
    (bar,) = root.iter(SVG + "rect")
    assert float(bar.get("height", "nan")) == 0 and float(bar.get("y", "nan")) == pytest.approx(zero_y(root))


def test_many_points_show_at_most_a_few_x_labels_including_the_first_and_the_last() -> None:
    chart = LineChart("c", "C", tuple((f"day{i}", Decimal(i % 7)) for i in range(1000)))
    labels = [t.text for t in with_class(parse(line_chart_svg(chart)), "text", "x-tick")]
    assert len(labels) <= MAX_X_LABELS and labels[0] == "day0" and labels[-1] == "day999"


def test_the_chart_has_an_accessible_name_and_description() -> None:
    root = parse(bar_chart_svg(pnl_by_day()))
    assert root.get("role") == "img" and root.get("aria-label") == "P&L by day"
    assert root.findtext(SVG + "title") == "P&L by day"
    description = root.findtext(SVG + "desc") or ""
    assert "8 bars" in description and "lowest -₹12,750.00" in description
    assert with_class(root, "rect", "loss")[0].findtext(SVG + "title") == "2026-11-03: -₹8,200.00"


def test_labels_with_markup_are_escaped_inside_the_svg() -> None:
    svg = bar_chart_svg(BarChart("b<", "<script>alert(1)</script>", (("<b>&", Decimal(1)),)))
    assert "<script>" not in svg and "<b>" not in svg
    root = parse(svg)  # still well-formed XML
    assert root.findtext(SVG + "title") == "<script>alert(1)</script>"

"""THE BROWSER TEST: the HTML page as headless Chromium draws it. The charts must be on the
screenshot, in their colours, where the layout puts them: the equity curve above the P&L bars,
gains above the zero line and losses below it, one run of colour per bar; a page without charts
has none of those colours. (Skips without Chromium, except under CI=true: tests/support/browser.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kite_gateway.report_render import to_html
from kite_gateway.report_render.chart_geometry import GAIN_COLOUR, LINE_COLOUR, LOSS_COLOUR
from tests.report_render.samples import DAILY_PNL, daily_report, tradebook_only
from tests.support.browser import WINDOW, screenshot

TOLERANCE = 8  # per channel: the fills are solid, only their antialiased edges differ


def mask(pixels: np.ndarray, colour: str) -> np.ndarray:
    """Where the screenshot has this colour (#rrggbb), as a boolean (height, width) array."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    return np.asarray(np.abs(pixels.astype(np.int16) - rgb).max(axis=2) <= TOLERANCE)


def runs(line: np.ndarray) -> int:
    """How many separate stretches of True a row has."""
    padded = np.concatenate(([False], line, [False])).astype(np.int8)
    return int((np.diff(padded) == 1).sum())


def test_the_daily_report_shows_its_equity_curve_above_its_pnl_bars_with_losses_below_zero(tmp_path: Path) -> None:
    pixels = screenshot(to_html(daily_report()), tmp_path)
    assert pixels.shape == (WINDOW[1], WINDOW[0], 3)
    line, gain, loss = mask(pixels, LINE_COLOUR), mask(pixels, GAIN_COLOUR), mask(pixels, LOSS_COLOUR)
    assert line.sum() > 1000, f"the equity curve has {line.sum()} pixels of {LINE_COLOUR}"
    assert gain.sum() > 5000 and loss.sum() > 2000, f"bars: {gain.sum()} gain, {loss.sum()} loss pixels"

    line_rows, line_columns = np.nonzero(line)
    gain_rows, gain_columns = np.nonzero(gain)
    loss_rows, _ = np.nonzero(loss)
    # The page's first chart is the curve, the second the bars, both within the page's first screen.
    assert line_rows.max() < gain_rows.min() and line_rows.max() < loss_rows.min()
    assert max(gain_rows.max(), loss_rows.max()) < WINDOW[1] * 0.75
    # Gains rise from the zero line, losses hang from it: no gain pixel below the first loss pixel.
    assert gain_rows.max() <= loss_rows.min()
    # One stretch of colour per bar just above and just below the zero line.
    assert runs(gain[gain_rows.max() - 2]) == sum(1 for pnl in DAILY_PNL if pnl > 0)
    assert runs(loss[loss_rows.min() + 2]) == sum(1 for pnl in DAILY_PNL if pnl < 0)
    # The curve ends higher than it starts (SVG rows grow downwards), across the plot's width.
    left, right = line_columns.min(), line_columns.max()
    assert right - left > 400
    start = line_rows[line_columns <= left + 10].mean()
    end = line_rows[line_columns >= right - 10].mean()
    assert end < start - 50, f"the curve starts at row {start:.0f} and ends at row {end:.0f}"
    # Bars are as wide as their chart: the first and the last bar lie near the plot's two ends.
    assert gain_columns.max() - gain_columns.min() > 400


def test_a_tradebook_without_charts_has_none_of_the_chart_colours_but_does_show_text(tmp_path: Path) -> None:
    pixels = screenshot(to_html(tradebook_only()), tmp_path)
    for colour in (LINE_COLOUR, GAIN_COLOUR, LOSS_COLOUR):
        assert mask(pixels, colour).sum() == 0, f"{colour} on a page without charts"
    inked = (pixels < 128).all(axis=2).sum()
    assert inked > 1000, "the screenshot is blank: the page did not render"

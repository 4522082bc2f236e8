"""The reports downloaded over HTTP from the paper gateway: a P&L statement as an HTML page that
headless Chromium draws with its equity curve and its gain and loss bars; the tradebook as CSV with
exactly the fills; every report as HTML and as PDF; a table that is not there, and a caller who may
not read the account, refused with a status a person can act on."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from kite_gateway.core.reports import Fill, Side
from kite_gateway.report_render.chart_geometry import GAIN_COLOUR, LINE_COLOUR, LOSS_COLOUR
from kite_simulator import ThreadedSimulator
from kite_wire import IST
from tests.e2e.test_auth import PRINCIPALS, TOKENS
from tests.e2e.test_http_json import Http, _serve
from tests.report_render.test_browser import mask
from tests.support.browser import screenshot

ACCOUNT = "ZS0001"


@pytest.fixture
async def served(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Http]:
    async for running in _serve(tmp_path, sim, sealing_key, gateway_auth_principals=PRINCIPALS):
        yield running


def fill(day: date, clock: str, side: str, quantity: int, price: str, n: int, product: str = "MIS") -> Fill:
    moment = datetime.fromisoformat(f"{day.isoformat()} {clock}").replace(tzinfo=IST)
    return Fill(ACCOUNT, f"t{n}", f"o{n}", "NSE", "INFY", 408065, "EQ", Side(side), product, quantity,
                Decimal(price), moment)  # fmt: skip


async def seed(http: Http) -> tuple[date, date]:
    """Three days of intraday round trips: +500, -300, +200 (the equity curve 500, 200, 400)."""
    today = http.sim.clock.now().astimezone(IST).date()
    first = today - timedelta(days=3)
    trades = []
    for i, (buy, sell) in enumerate((("1000", "1005"), ("1000", "997"), ("1000", "1002"))):
        day = first + timedelta(days=i)
        trades += [fill(day, "09:30:00", "BUY", 100, buy, 2 * i), fill(day, "14:00:00", "SELL", 100, sell, 2 * i + 1)]
    assert http.runtime.fill_recorder is not None
    await http.runtime.fill_recorder.fills.record(trades, "test", datetime.now(UTC))
    return first, first + timedelta(days=2)


async def get(http: Http, path: str, token: str | None = "reader") -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {TOKENS[token]}"} if token else {}
    async with http.client.get(http.url(path), headers=headers) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def query(start: date, end: date) -> str:
    return f"scope.account_ids={ACCOUNT}&dates.start={start}&dates.end={end}"


async def test_the_pnl_page_draws_its_equity_curve_and_gain_and_loss_bars(served: Http, tmp_path: Path) -> None:
    start, end = await seed(served)
    status, kind, body = await get(served, f"/v1/reports/pnl.html?{query(start, end)}")
    assert (status, kind) == (200, "text/html; charset=utf-8"), body[:300]
    page = body.decode()
    assert "P&amp;L statement" in page and "EQ:INFY" in page
    pixels = await asyncio.to_thread(screenshot, page, tmp_path)
    line, gain, loss = mask(pixels, LINE_COLOUR), mask(pixels, GAIN_COLOUR), mask(pixels, LOSS_COLOUR)
    assert line.sum() > 500, f"the equity curve drew {line.sum()} pixels"
    assert gain.sum() > 200 and loss.sum() > 100, f"bars: {gain.sum()} gain and {loss.sum()} loss pixels"
    # The loss day's bar hangs below the zero line the gain days' bars stand on.
    gain_rows, loss_rows = np.flatnonzero(gain.any(axis=1)), np.flatnonzero(loss.any(axis=1))
    assert loss_rows.min() >= gain_rows.max() - 2, "the loss bar is not below the gain bars"


async def test_the_tradebook_csv_holds_exactly_the_fills(served: Http) -> None:
    start, end = await seed(served)
    status, kind, body = await get(served, f"/v1/reports/tradebook.csv?{query(start, end)}")
    assert (status, kind) == (200, "text/csv; charset=utf-8")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0][:4] == ["Date", "Time", "Account", "Instrument"]
    assert len(rows) == 1 + 6
    assert [(r[4], r[6], r[7]) for r in rows[1:3]] == [("BUY", "100", "1000"), ("SELL", "100", "1005")]


@pytest.mark.parametrize("report", ["pnl", "tax-pnl", "daily", "tradebook"])
async def test_every_report_downloads_as_html_and_as_pdf(served: Http, report: str) -> None:
    start, end = await seed(served)
    asked = {
        "pnl": query(start, end),
        "tradebook": query(start, end),
        "tax-pnl": f"scope.account_ids={ACCOUNT}&financial_year={end.year if end.month > 3 else end.year - 1}",
        "daily": f"scope.account_ids={ACCOUNT}&date={end}",
    }[report]
    for form, magic in (("html", b"<!DOCTYPE html>"), ("pdf", b"%PDF")):
        status, _, body = await get(served, f"/v1/reports/{report}.{form}?{asked}")
        assert status == 200, body[:300]
        assert body.lstrip().upper().startswith(magic.upper()), body[:40]


async def test_a_table_that_is_not_there_is_refused_naming_the_ones_that_are(served: Http) -> None:
    start, end = await seed(served)
    status, _, body = await get(served, f"/v1/reports/pnl.csv?{query(start, end)}&table=nothing")
    assert status == 400 and b"instruments" in body


async def test_a_caller_who_may_not_read_the_account_gets_no_report(served: Http) -> None:
    start, end = await seed(served)
    assert (await get(served, f"/v1/reports/pnl.html?{query(start, end)}", token=None))[0] == 401
    status, _, body = await get(served, f"/v1/reports/pnl.html?scope.account_ids=ZS0002&dates.start={start}&"
                                        f"dates.end={end}")  # fmt: skip
    assert status == 403 and b"ZS0002" in body

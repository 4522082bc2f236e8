"""Documents for the renderer tests: a daily report with an equity curve, P&L by day (gains and
losses) and a tradebook, and a tradebook alone (no charts)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from kite_gateway.report_render import BarChart, Document, LineChart, Note, Section, Table

DAILY_PNL = (
    Decimal("12500.50"),
    Decimal("-8200.00"),
    Decimal("15300.25"),
    Decimal("-3100.75"),
    Decimal("22000.00"),
    Decimal("-12750.00"),
    Decimal("9400.00"),
    Decimal("18250.50"),
)
FIRST_DAY = date(2026, 11, 2)


def days() -> list[date]:
    return [FIRST_DAY + timedelta(days=i) for i in range(len(DAILY_PNL))]


def tradebook(rows: int = 3) -> Table:
    fills = [
        (date(2026, 11, 2), "INFY", "BUY", 100, Decimal("1523.45"), Decimal("-152345.00")),
        (date(2026, 11, 3), "RELIANCE", "SELL", 25, Decimal("2890.10"), Decimal("72252.50")),
        (date(2026, 11, 4), "NIFTY26NOVFUT", "SELL", 75, Decimal("24510.00"), Decimal("1838250.00")),
    ]
    return Table(
        id="tradebook",
        title="Tradebook",
        columns=("Date", "Symbol", "Side", "Quantity", "Price (₹)", "Value (₹)"),
        rows=tuple(fills[i % len(fills)] for i in range(rows)),
        note="Value is negative for a purchase (money out).",
    )


def equity_curve() -> LineChart:
    start = Decimal("1000000")
    points = []
    running = start
    for day, pnl in zip(days(), DAILY_PNL, strict=True):
        running += pnl
        points.append((day.isoformat(), running))
    return LineChart(id="equity", title="Equity curve", points=tuple(points))


def rising_curve() -> LineChart:
    return LineChart(
        id="rising",
        title="Rising",
        points=tuple((day.isoformat(), Decimal(1000 * i)) for i, day in enumerate(days())),
    )


def pnl_by_day() -> BarChart:
    return BarChart(
        id="pnl-by-day",
        title="P&L by day",
        bars=tuple((day.isoformat(), pnl) for day, pnl in zip(days(), DAILY_PNL, strict=True)),
    )


def daily_report() -> Document:
    return Document(
        kind="daily",
        title="Daily report — ZX1234",
        subtitle="2 Nov 2026 to 9 Nov 2026",
        facts=(
            ("Net P&L (₹)", sum(DAILY_PNL, Decimal(0))),
            ("Worst day (₹)", min(DAILY_PNL)),
            ("Trades", 42),
            ("As of", date(2026, 11, 9)),
        ),
        sections=(
            Section("Performance", (equity_curve(), pnl_by_day())),
            Section("Trades", (tradebook(), Note("Charges are estimates until the contract note."))),
        ),
    )


def tradebook_only() -> Document:
    return Document(
        kind="tradebook",
        title="Tradebook — ZX1234",
        subtitle="November 2026",
        facts=(("Trades", 3),),
        sections=(Section("Fills", (tradebook(),)),),
    )

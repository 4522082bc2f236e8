"""What a report costs over reading its fills, on SQLite, for fill logs of several sizes.

A scripted history (one account; each trading day a delivery buy, an intraday round trip, and
every few days a delivery sell, on 50 symbols, plus a futures round trip) is stored in a fresh
database with the gateway's FillLog, each order's charges beside it. Then, in the same run and
interleaved, each of these is timed `--repeat` times:

- the reference: reading every fill of the range back (FillLog.fills), which any report must do;
- the tradebook's first page (the RPC's use case: a page and one more);
- the P&L statement over the whole history (lots matched FIFO, marks passed in, no Kite call);
- the tax P&L of the last financial year (FIFO lots, buckets, charges shared out, DP charges);
- the daily report of the last day (with empty order-update, audit and alert stores).

Printed: each figure's median and spread (min-max), and its ratio to the reference of the same
size. Peak RSS growth is printed too (what holding a history in memory costs).

    .venv/bin/python bench/report_bench.py [--sizes 10000,100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kite_gateway.core.reports import Charges, ChargeSource, Fill, OrderCharges, Reports, Side
from kite_gateway.storage import FillLog, FillQuery
from kite_gateway.storage.sqlite import SqliteDatabase
from kite_wire import IST

ACCOUNT = "ZB0001"
SYMBOLS = [f"SYM{i:02d}" for i in range(50)]


def history(size: int, last: date) -> list[Fill]:
    """About `size` fills ending on `last`, oldest first."""
    fills: list[Fill] = []
    day = last - timedelta(days=size // (len(SYMBOLS) * 3) + 1)
    n = 0

    def add(when: datetime, side: str, symbol: str, quantity: int, price: str, product: str, exchange: str = "NSE",
            kind: str = "EQ") -> None:  # fmt: skip
        nonlocal n
        n += 1
        fills.append(Fill(ACCOUNT, f"T{n}", f"O{n}", exchange, symbol, n, kind, Side(side), product, quantity,
                          Decimal(price), when))  # fmt: skip

    while len(fills) < size and day <= last:
        open_ = datetime.combine(day, datetime.min.time(), IST).replace(hour=9, minute=20)
        for i, symbol in enumerate(SYMBOLS):
            at = open_ + timedelta(seconds=i)
            add(at, "BUY", symbol, 10, f"{100 + i}.05", "CNC")
            add(at + timedelta(hours=1), "BUY", symbol, 5, f"{101 + i}", "MIS")
            add(at + timedelta(hours=3), "SELL", symbol, 5, f"{102 + i}.5", "MIS")
            if day.toordinal() % 5 == 0:
                add(at + timedelta(hours=4), "SELL", symbol, 30, f"{103 + i}", "CNC")
        add(open_, "BUY", "NIFTYFUT", 75, "24000", "NRML", "NFO", "FUT")
        add(open_ + timedelta(hours=5), "SELL", "NIFTYFUT", 75, "24010.5", "NRML", "NFO", "FUT")
        day += timedelta(days=1)
    return fills[:size]


class EmptyDay:
    async def order_statuses(self, account_id: str, start: datetime, end: datetime) -> dict[str, str]:
        return {}

    async def audit(self, account_id: str, start: datetime, end: datetime) -> list[Any]:
        return []

    async def alerts(self, start: datetime, end: datetime) -> list[Any]:
        return []


async def timed(work: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return times


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(size: int, repeat: int) -> None:
    last = date(2026, 11, 30)
    fills = history(size, last)
    with tempfile.TemporaryDirectory() as folder:
        database = SqliteDatabase(Path(folder) / "bench.db")
        await database.open()
        log = FillLog(database)
        now = datetime.now(UTC)
        await log.record(fills, "bench", now)
        charges = Charges(brokerage=Decimal("1.5"), transaction_tax=Decimal(1), gst=Decimal("0.27"))
        noted = ChargeSource.CONTRACT_NOTE
        await log.save_charges(
            [OrderCharges(ACCOUNT, f.order_id, f.trade_date, charges, noted, f.quantity) for f in fills], now
        )

        async def marks(symbols: Any, day: date) -> dict[str, Decimal]:
            return {s: Decimal(150) for s in symbols}

        reports = Reports(log, lambda: [ACCOUNT], None, marks, EmptyDay(), lambda: datetime(2026, 12, 1, tzinfo=UTC))
        first = fills[0].trade_date
        year = last.year if last.month > 3 else last.year - 1
        before = rss_mib()
        cases: dict[str, Callable[[], Awaitable[Any]]] = {
            "read every fill (reference)": lambda: log.fills(FillQuery((ACCOUNT,), first, last)),
            "tradebook, first page of 100": lambda: reports.tradebook((ACCOUNT,), first, last),
            "P&L statement, whole history": lambda: reports.pnl((ACCOUNT,), first, last),
            f"tax P&L, FY {year}": lambda: reports.tax((ACCOUNT,), year),
            "daily report, last day": lambda: reports.daily((ACCOUNT,), last),
        }
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeat):  # interleaved, so that drift of the machine falls on every case alike
            for name, work in cases.items():
                results[name].extend(await timed(work, 1))
        reference = statistics.median(results["read every fill (reference)"])
        print(f"\n{size} fills ({first} to {last}), {repeat} runs each; peak RSS +{rss_mib() - before:.0f} MiB")
        for name, times in results.items():
            median = statistics.median(times)
            print(f"  {name:34} {median * 1000:9.1f} ms  (spread {min(times) * 1000:.1f}-{max(times) * 1000:.1f})"
                  f"  x{median / reference:.2f} of reading the fills")  # fmt: skip
        await database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        asyncio.run(run(size, args.repeat))


if __name__ == "__main__":
    main()

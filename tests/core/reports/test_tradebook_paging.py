"""The tradebook read a page at a time, over fills that share their moment (one order's partial
fills, two accounts' trades in one second) and a segment filter that skips most of a batch: the
pages put together are the whole tradebook in fill order, each fill once, whatever the page size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.reports import Fill, Segment
from kite_gateway.core.reports.service import Reports
from kite_gateway.storage import Database, FillLog
from kite_gateway.storage.sqlite import SqliteDatabase
from tests.core.reports.fills import fill
from tests.core.reports.test_daily import FakeDay

NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)
ACCOUNTS = ("AB1234", "ZZ9999")
FUT = {"symbol": "NIFTY26DECFUT", "exchange": "NFO", "product": "NRML", "instrument_type": "FUT"}


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = SqliteDatabase(tmp_path / "g.db")
    await db.open()
    yield db
    await db.close()


def history() -> list[Fill]:
    fills = []
    for n in range(30):
        when = f"2026-12-0{1 + n % 3} 10:0{n % 2}"  # many fills share a moment
        fields: dict[str, Any] = FUT if n % 5 == 0 else {}
        fills.append(fill(when, "BUY" if n % 2 else "SELL", 1 + n, "100", account_id=ACCOUNTS[n % 2],
                          order_id=f"O{n // 3}", **fields))  # fmt: skip
    return fills


@pytest.mark.parametrize("segment", [None, Segment.EQUITY, Segment.EQUITY_FUTURES])
async def test_pages_put_together_are_the_whole_tradebook_once_in_order(
    database: Database, segment: Segment | None
) -> None:
    log = FillLog(database)
    await log.record(history(), "test", NOW)

    async def no_marks(symbols: Any, day: date) -> dict[str, Any]:
        return {}

    reports = Reports(log, lambda: ACCOUNTS, None, no_marks, FakeDay(), lambda: NOW)
    start, end = date(2026, 12, 1), date(2026, 12, 3)
    whole = (await reports.tradebook(ACCOUNTS, start, end, segment=segment, page_size=1000)).fills
    assert whole and (segment is None or all(f.segment is segment for f in whole))
    for size in (1, 2, 3, 7, len(whole), len(whole) + 1):
        pages: list[Fill] = []
        after = None
        for _ in range(len(whole) + 2):
            page = await reports.tradebook(ACCOUNTS, start, end, segment=segment, page_size=size, after=after)
            pages.extend(page.fills)
            assert len(page.fills) <= size
            after = page.next_after
            if after is None:
                break
        assert pages == list(whole), size

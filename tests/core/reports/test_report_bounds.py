"""The P&L and tax reports load every fill of their accounts up to their end: past MAX_REPORT_FILLS
they are refused with RESOURCE_EXHAUSTED (naming the count and the limit) before anything is loaded,
instead of holding an unbounded history in memory; at the limit they run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.reports.service import Reports
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import Database, FillLog
from kite_gateway.storage.sqlite import SqliteDatabase
from tests.core.reports.fills import fill
from tests.core.reports.test_daily import FakeDay

NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = SqliteDatabase(tmp_path / "g.db")
    await db.open()
    yield db
    await db.close()


async def reports(database: Database, max_fills: int) -> Reports:
    log = FillLog(database)
    await log.record([fill(f"2026-12-0{d}", "BUY", 1, "100", product="MIS") for d in (1, 2, 3)], "test", NOW)

    async def no_marks(symbols: Any, day: date) -> dict[str, Any]:
        return {}

    return Reports(log, lambda: ("AB1234",), None, no_marks, FakeDay(), lambda: NOW, max_fills)


async def test_a_pnl_statement_over_more_fills_than_the_bound_is_resource_exhausted_not_loaded(
    database: Database,
) -> None:
    made = await reports(database, max_fills=2)
    for call in (made.pnl(("AB1234",), date(2026, 12, 3), date(2026, 12, 3)), made.tax(("AB1234",), 2026),
                 made.daily(("AB1234",), date(2026, 12, 3))):  # fmt: skip
        with pytest.raises(GatewayError) as refused:
            await call
        assert (refused.value.code, refused.value.reason) == (Status.RESOURCE_EXHAUSTED, Reason.GATEWAY_LIMIT_REACHED)
        assert refused.value.metadata == {"fills": "3", "limit": "2"}
    # Up to the range's end only: a statement ending on 2 Dec reads two fills and runs.
    assert (await made.pnl(("AB1234",), date(2026, 12, 2), date(2026, 12, 2))).statement.accounts
    made.max_fills = 3
    assert (await made.pnl(("AB1234",), date(2026, 12, 3), date(2026, 12, 3))).statement.accounts

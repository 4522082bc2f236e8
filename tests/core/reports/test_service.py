"""The report use cases' scopes: an unknown group or account is NOT_FOUND; an empty scope is every
account the caller may read (the fill bound: test_report_bounds.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.reports import Reports, Scope
from kite_gateway.errors import GatewayError, Status
from kite_gateway.storage import FillLog
from kite_gateway.storage.sqlite import SqliteDatabase


class NoDay:
    async def order_statuses(self, account_id: str, start: datetime, end: datetime) -> dict[str, str]:
        return {}

    async def audit(self, account_id: str, start: datetime, end: datetime) -> list[Any]:
        return []

    async def alerts(self, start: datetime, end: datetime) -> list[Any]:
        return []


async def no_marks(symbols: Any, day: date) -> dict[str, Any]:
    return {}


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[FillLog]:
    database = SqliteDatabase(tmp_path / "g.db")
    await database.open()
    yield FillLog(database)
    await database.close()


def reports(log: FillLog, max_fills: int = 1000) -> Reports:
    groups = {"desk": ("AB1234", "CD5678")}
    return Reports(log, lambda: ["AB1234", "CD5678", "EF9012"], groups.__getitem__, no_marks, NoDay(),
                   lambda: datetime(2026, 12, 3, 6, 0, tzinfo=UTC), max_fills)  # fmt: skip


def test_scopes_resolve_groups_and_named_accounts_and_refuse_unknown_ones(log: FillLog) -> None:
    use = reports(log)
    assert use.resolve(Scope(("EF9012",), "desk"), lambda _: True) == ("AB1234", "CD5678", "EF9012")
    assert use.resolve(Scope(), lambda account: account != "CD5678") == ("AB1234", "EF9012")
    for scope, named in ((Scope((), "nobody"), "nobody"), (Scope(("XX0000",)), "XX0000")):
        with pytest.raises(GatewayError) as refused:
            use.resolve(scope, lambda _: True)
        assert refused.value.code is Status.NOT_FOUND and named in refused.value.message

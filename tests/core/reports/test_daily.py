"""The daily report over fake day records: the stores are asked for the IST day of the report (not
the UTC day), alerts are listed under each account they are about (by scope or by an account_id
field) and once in the consolidated section, and refusals and kill-switch entries are told apart
from other audit entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.reports.service import AUDIT_SET_KILL_SWITCH, FAILED_PRECONDITION, Reports
from kite_gateway.storage import Database, FillLog, StoredAlert
from kite_gateway.storage.sqlite import SqliteDatabase
from kite_wire import IST

DAY = date(2026, 11, 25)
ACCOUNTS = ("ZS0001", "ZS0002")


def alert(sequence: int, scope: str, **fields: str) -> StoredAlert:
    return StoredAlert(sequence, f"rule-{sequence}", "FILLS", "info", scope, "t", "m", fields,
                       datetime(2026, 11, 25, 10, tzinfo=IST))  # fmt: skip


@dataclass
class Audit:
    event_id: int
    account_id: str
    action: int
    status_code: int
    outcome: str


@dataclass
class FakeDay:
    asked: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    entries: list[Audit] = field(default_factory=list)
    fired: list[StoredAlert] = field(default_factory=list)

    async def order_statuses(self, account_id: str, start: datetime, end: datetime) -> dict[str, str]:
        self.asked.append(("orders", start, end))
        return {}

    async def audit(self, account_id: str, start: datetime, end: datetime) -> list[Any]:
        self.asked.append(("audit", start, end))
        return [e for e in self.entries if e.account_id == account_id]

    async def alerts(self, start: datetime, end: datetime) -> list[Any]:
        self.asked.append(("alerts", start, end))
        return list(self.fired)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = SqliteDatabase(tmp_path / "g.db")
    await db.open()
    yield db
    await db.close()


def reports(database: Database, records: FakeDay) -> Reports:
    async def no_marks(symbols: Any, day: date) -> dict[str, Any]:
        return {}

    return Reports(FillLog(database), lambda: ACCOUNTS, None, no_marks, records,
                   lambda: datetime(2026, 11, 25, 20, tzinfo=UTC))  # fmt: skip


async def test_the_day_records_are_read_over_the_ist_day_and_alerts_go_to_the_accounts_they_are_about(
    database: Database,
) -> None:
    records = FakeDay(fired=[alert(1, "ZS0001"), alert(2, "strategy:s1", account_id="ZS0002"),
                             alert(3, "ZS0001", account_id="ZS0002"), alert(4, "ZS0003")])  # fmt: skip
    report = await reports(database, records).daily(ACCOUNTS, DAY)
    midnight = datetime(2026, 11, 25, tzinfo=IST)
    assert {(start, end) for _, start, end in records.asked} == {(midnight, midnight + timedelta(days=1))}
    assert midnight.astimezone(UTC) == datetime(2026, 11, 24, 18, 30, tzinfo=UTC)
    by_account = {a.account_id: [x.sequence for x in a.alerts] for a in report.accounts}
    assert by_account == {"ZS0001": [1, 3], "ZS0002": [2, 3]}
    assert sorted(x.sequence for x in report.consolidated.alerts) == [1, 2, 3]  # alert 3 once


async def test_only_risk_and_kill_switch_refusals_count_as_refusals_and_kill_switch_changes_are_listed(
    database: Database,
) -> None:
    records = FakeDay(entries=[
        Audit(1, "ZS0001", 1, FAILED_PRECONDITION, "risk limit max_order_value of account ZS0001 is 1000; ..."),
        Audit(2, "ZS0001", 1, FAILED_PRECONDITION, "kill switch of ZS0001 is engaged ('x', by p): ..."),
        Audit(3, "ZS0001", 1, FAILED_PRECONDITION, "the market is closed"),  # not a risk refusal
        Audit(4, "ZS0001", 1, 3, "risk limit in a bad request"),  # INVALID_ARGUMENT: not a refusal
        Audit(5, "ZS0001", AUDIT_SET_KILL_SWITCH, 0, "ok"),
        Audit(6, "", AUDIT_SET_KILL_SWITCH, 0, "ok"),  # the gateway-wide switch
    ])  # fmt: skip
    report = await reports(database, records).daily(ACCOUNTS, DAY)
    first = report.accounts[0]
    assert [e.event_id for e in first.risk_refusals] == [1, 2]
    assert [e.event_id for e in first.kill_switch_events] == [5]
    assert [e.event_id for e in report.consolidated.risk_refusals] == [1, 2]
    assert [e.event_id for e in report.consolidated.kill_switch_events] == [5, 6]

"""Retention on both backends: rows older than their window are pruned (an account's newest order
update never), newer ones and those of a window of 0 are kept, every DELETE stays within its batch,
a table the schema does not have yet (fills) is skipped and pruned once it is there, two pruners at
once only split the work, and the pruning loop outlives a failed round and stops when cancelled."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.storage import AuditLog, Database, FillLog, FillQuery, open_database
from kite_gateway.storage.retention import AUDIT, FILLS, ORDER_UPDATES, Retention, keep_pruning
from tests.core.reports.fills import fill

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def add_update(database: Database, account_id: str, sequence: int, received: datetime) -> None:
    await database.execute(
        "INSERT INTO order_updates (account_id, sequence, order_id, dedupe_key, source, received_at, payload) "
        "VALUES (?, ?, ?, ?, 1, ?, '{}')",
        (account_id, sequence, f"o{sequence}", f"k{sequence}", received.isoformat()),
    )


async def add_audit(database: Database, account_id: str, time: datetime) -> None:
    await AuditLog(database).append(time, "p", account_id, 1, "", "", "{}", 0, "ok", 1.0)


async def sequences(database: Database, account_id: str) -> list[int]:
    rows = await database.fetch_all(
        "SELECT sequence FROM order_updates WHERE account_id = ? ORDER BY sequence", (account_id,)
    )
    return [int(row["sequence"]) for row in rows]


async def count(database: Database, table: str) -> int:
    row = await database.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


def retention(database: Database, batch: int = 1000, **days: int) -> Retention:
    return Retention(database, days, batch=batch, now=lambda: NOW)


async def test_order_updates_older_than_the_window_are_pruned_but_never_an_accounts_newest(database: Database) -> None:
    for sequence, age in enumerate((200, 120, 100, 10, 1), 1):
        await add_update(database, "AB1234", sequence, ago(age))
    for sequence in (1, 2):  # an account quiet for long: its newest stays however old
        await add_update(database, "QUIET1", sequence, ago(400))
    pruned = await retention(database, **{ORDER_UPDATES: 90}).prune()
    assert pruned == {ORDER_UPDATES: 4}
    assert await sequences(database, "AB1234") == [4, 5]
    assert await sequences(database, "QUIET1") == [2]


async def test_audit_entries_older_than_the_window_are_pruned_and_newer_ones_kept(database: Database) -> None:
    for age in (3000, 2923, 2921, 5):
        await add_audit(database, "AB1234", ago(age))
    pruned = await retention(database, **{AUDIT: 2922}).prune()
    assert pruned == {AUDIT: 2}
    kept = await AuditLog(database).query("AB1234", None, None, "", "", 0, 10)
    assert [entry.time for entry in kept] == [ago(2921), ago(5)]


async def test_a_window_of_zero_keeps_everything_forever(database: Database) -> None:
    await add_update(database, "AB1234", 1, ago(5000))
    await add_update(database, "AB1234", 2, ago(5000))
    await add_audit(database, "AB1234", ago(5000))
    assert await retention(database, **{ORDER_UPDATES: 0, AUDIT: 0, FILLS: 0}).prune() == {}
    assert (await count(database, "order_updates"), await count(database, "audit")) == (2, 1)


async def test_pruning_deletes_in_batches_no_statement_deleting_more_than_a_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(10):
        await add_audit(database, "AB1234", ago(3000 + n))
    await add_audit(database, "AB1234", ago(1))
    deleted: list[int] = []
    execute = database.execute

    async def counted(sql: str, params: Any = ()) -> int:
        changed = await execute(sql, params)
        if sql.startswith("DELETE"):
            deleted.append(changed)
        return changed

    monkeypatch.setattr(database, "execute", counted)
    assert await retention(database, batch=3, **{AUDIT: 2922}).prune() == {AUDIT: 10}
    assert sum(deleted) == 10 and max(deleted) <= 3 and len(deleted) >= 4
    assert await count(database, "audit") == 1


async def test_fills_older_than_their_window_are_pruned_by_their_fill_time(database: Database) -> None:
    log = FillLog(database)
    old, recent = (replace(fill("2026-12-01", "BUY", 1, "100"), filled_at=ago(age)) for age in (3000, 10))
    await log.record([old, recent], "reconciliation", ago(0))
    assert await retention(database, **{FILLS: 2922}).prune() == {FILLS: 1}
    assert [f.trade_id for f in await log.fills(FillQuery(("AB1234",)))] == [recent.trade_id]


async def test_two_pruners_at_once_on_one_database_prune_each_row_once_between_them(
    database: Database, database_url: str | None, tmp_path: Path
) -> None:
    for n in range(40):
        await add_audit(database, "AB1234", ago(3000 + n))
    # Two replicas: on PostgreSQL two connection pools; SQLite has one process's connection.
    other = open_database(database_url, tmp_path) if database_url else database
    if other is not database:
        await other.open()
    try:
        first, second = await asyncio.gather(
            retention(database, batch=7, **{AUDIT: 2922}).prune(),
            retention(other, batch=7, **{AUDIT: 2922}).prune(),
        )
    finally:
        if other is not database:
            await other.close()
    assert first[AUDIT] + second[AUDIT] == 40
    assert await count(database, "audit") == 0


class Failing(Retention):
    """A retention whose first round fails (the database away), then prunes."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, {AUDIT: 2922}, now=lambda: NOW)
        self.rounds = 0

    async def prune(self) -> dict[str, int]:
        self.rounds += 1
        if self.rounds == 1:
            raise RuntimeError("database away")
        return await super().prune()


async def test_the_pruning_loop_outlives_a_failed_round_and_stops_when_cancelled(database: Database) -> None:
    await add_audit(database, "AB1234", ago(3000))
    failing = Failing(database)
    counted: list[dict[str, int]] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 3:
            raise asyncio.CancelledError  # the gateway stopping while the loop waits

    with pytest.raises(asyncio.CancelledError):
        await keep_pruning(failing, 3600, counted.append, sleep)
    assert failing.rounds == 3 and waits == [3600] * 4
    assert counted == [{AUDIT: 1}, {AUDIT: 0}]

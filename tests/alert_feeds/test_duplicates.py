"""Duplicate events from DuplicateOrders over a real database and a fake Kite: the duplicate and
what was done about it, told once; an alert center that fails still leaves the audit entry and
the subscribers' update."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from kite_gateway.alert_feeds import DuplicateAlerts
from kite_gateway.core.alerts import DuplicateEvent
from kite_gateway.core.orders import DuplicateOrders
from kite_gateway.kite import KiteOrders
from kite_gateway.storage import PLACED, AuditLog, DuplicateLog, IdempotencyStore, SqliteDatabase
from kite_gateway.storage.idempotency import kite_tag
from tests.alert_feeds.fakes import NOW, Broken, Recorder, clock

ACCOUNT = "ZS0001"


class FakeKite:
    """The duplicate's order at Kite: open until cancelled."""

    account_id = ACCOUNT

    def __init__(self) -> None:
        self.cancelled: list[str] = []

    async def order_history(self, order_id: str) -> list[dict[str, Any]]:
        return [{"order_id": order_id, "status": "OPEN", "filled_quantity": 0, "variety": "regular"}]

    async def cancel_order(self, variety: str, order_id: str) -> None:
        self.cancelled.append(order_id)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    yield database
    await database.close()


async def duplicates_of(database: SqliteDatabase) -> tuple[DuplicateOrders, list[tuple[str, Mapping[str, Any]]]]:
    store = IdempotencyStore(database)
    await store.claim(ACCOUNT, "c-1", "order", "fp")
    await store.settle(ACCOUNT, "c-1", PLACED, order_id="111")
    reported: list[tuple[str, Mapping[str, Any]]] = []

    async def report(account_id: str, order: dict[str, Any], marker: dict[str, Any]) -> None:
        reported.append((account_id, marker))

    return DuplicateOrders(store, DuplicateLog(database), AuditLog(database), report), reported


def second_order() -> dict[str, Any]:
    return {"order_id": "222", "tag": kite_tag(ACCOUNT, "c-1"), "status": "OPEN"}


async def test_a_duplicate_becomes_one_event_naming_both_orders_and_what_was_done(database: SqliteDatabase) -> None:
    duplicates, _ = await duplicates_of(database)
    recorder = Recorder()
    duplicates.listeners.append(DuplicateAlerts(recorder, clock).found)
    kite = cast(KiteOrders, FakeKite())
    await duplicates.observe(kite, second_order())
    await duplicates.observe(kite, second_order())  # seen again: known, not told again
    [event] = recorder.events
    assert isinstance(event, DuplicateEvent)
    assert (event.account_id, event.client_order_id, event.kept_order_id, event.duplicate_order_id) == (
        ACCOUNT, "c-1", "111", "222",
    )  # fmt: skip
    assert event.action == "CANCELLED" and "cancelled it" in event.message and event.at == NOW


async def test_an_alert_center_that_raises_leaves_the_duplicate_handled_and_reported(
    database: SqliteDatabase,
) -> None:
    duplicates, reported = await duplicates_of(database)
    broken = Broken()
    duplicates.listeners.append(DuplicateAlerts(broken, clock).found)
    fake = FakeKite()
    await duplicates.observe(cast(KiteOrders, fake), second_order())
    assert broken.calls == 1 and fake.cancelled == ["222"]
    assert [(a, m["duplicate_order_id"]) for a, m in reported] == [(ACCOUNT, "222")]
    assert await DuplicateLog(database).known(ACCOUNT, "222")


async def test_a_listener_that_raises_is_logged_and_the_duplicate_still_reported(database: SqliteDatabase) -> None:
    duplicates, reported = await duplicates_of(database)

    def failing(account_id: str, found: object) -> None:
        raise RuntimeError("listener bug")

    duplicates.listeners.append(failing)
    await duplicates.observe(cast(KiteOrders, FakeKite()), second_order())
    assert [m["action"] for _, m in reported] == [1]  # CANCELLED

"""Order events from the feed's stored updates: Kite's fields as the engine reads them, and an alert
center that fails leaves the order path as it was (stored, listeners woken, other hooks run)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.alert_feeds import OrderAlerts
from kite_gateway.core.alerts import OrderEvent
from kite_gateway.core.order_updates import OrderUpdateFeed, UpdateSource
from kite_gateway.storage.order_updates import OrderUpdateLog
from kite_gateway.storage.sqlite import SqliteDatabase
from tests.alert_feeds.fakes import NOW, Broken, Recorder, clock


def order(order_id: str, status: str, **fields: Any) -> dict[str, Any]:
    """An order as Kite's ticker reports it (with only what the events read, and an envelope field)."""
    filled = 1 if status == "COMPLETE" else 0
    return {"order_id": order_id, "status": status, "quantity": 1, "filled_quantity": filled, "user_id": "ZS0001",
            "order_timestamp": "2026-12-03 10:30:00", **fields}  # fmt: skip


@pytest.fixture
async def feed(tmp_path: Path) -> AsyncIterator[OrderUpdateFeed]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    feed = OrderUpdateFeed(OrderUpdateLog(database))
    try:
        yield feed
    finally:
        await feed.stop()
        await database.close()


async def test_a_stored_update_becomes_an_order_event_with_kites_status_and_quantities(
    feed: OrderUpdateFeed,
) -> None:
    recorder = Recorder()
    feed.on_stored.append(OrderAlerts(recorder, clock).stored)
    rejected = order("111", "REJECTED", status_message="RMS: margin exceeds", quantity=5)
    partly = order("222", "OPEN", quantity=10, filled_quantity="4")  # Kite's postbacks may send text
    assert await feed.ingest("ZS0001", rejected, UpdateSource.WEBSOCKET)
    assert await feed.ingest("ZS0001", partly, UpdateSource.POSTBACK)
    assert not await feed.ingest("ZS0001", partly, UpdateSource.WEBSOCKET)  # a repeat is not stored: no event
    await feed.stop()
    assert sorted(recorder.events, key=lambda e: e.order_id) == [  # type: ignore[union-attr]
        OrderEvent("ZS0001", "111", "REJECTED", 0, 5, "RMS: margin exceeds", NOW),
        OrderEvent("ZS0001", "222", "OPEN", 4, 10, "", NOW),
    ]


async def test_an_alert_center_that_raises_does_not_break_the_order_path(feed: OrderUpdateFeed) -> None:
    broken, after = Broken(), list[tuple[str, Mapping[str, Any]]]()

    async def next_hook(account_id: str, stored: dict[str, Any]) -> None:
        after.append((account_id, stored))

    alerts = OrderAlerts(broken, clock)
    await alerts.stored("ZS0001", order("000", "OPEN"))  # the hook itself never raises
    feed.on_stored += [alerts.stored, next_hook]
    listener = feed.listen("ZS0001")
    assert await feed.ingest("ZS0001", order("111", "COMPLETE"), UpdateSource.WEBSOCKET)
    assert listener.wake.is_set()
    await feed.stop()  # waits for the hooks: none of them failed
    assert broken.calls == 2 and [(a, o["order_id"]) for a, o in after] == [("ZS0001", "111")]
    assert [u.order["order_id"] for u in await feed.log.after("ZS0001", 0)] == ["111"]

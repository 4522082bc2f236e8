"""The order-update feed as a unit, over the real durable log: repeats are stored once, every new
update reaches the on-stored hooks, an outage is reconciled once the upstream is back (its first
start kept), and an unreadable order book is a gap the caller is told nothing was recovered for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kite_gateway.core.order_updates import Gap, GapAction, GapReason, OrderUpdateFeed, UpdateSource
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage.order_updates import OrderUpdateLog
from kite_gateway.storage.sqlite import SqliteDatabase
from tests.core.order_updates.conftest import ACCOUNT, order


async def test_a_new_update_reaches_every_on_stored_hook_without_its_envelope_and_a_repeat_reaches_none(
    feed: OrderUpdateFeed,
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def hook(account_id: str, stored: dict[str, Any]) -> None:
        seen.append((account_id, stored))

    feed.on_stored.append(hook)
    assert await feed.ingest(ACCOUNT, order("1"), UpdateSource.WEBSOCKET)
    assert not await feed.ingest(ACCOUNT, order("1"), UpdateSource.POSTBACK)
    await feed.stop()  # the hooks run in the background
    assert [(a, o["order_id"]) for a, o in seen] == [(ACCOUNT, "1")]
    assert "checksum" not in seen[0][1] and "user_id" not in seen[0][1]
    (stored,) = await feed.log.after(ACCOUNT, 0)
    assert stored.source == int(UpdateSource.WEBSOCKET)


async def test_an_outage_is_reconciled_when_the_upstream_is_back_and_dated_from_when_it_began(tmp_path: Path) -> None:
    clock = [datetime(2026, 11, 24, 5, 0, tzinfo=UTC)]
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    feed = OrderUpdateFeed(OrderUpdateLog(database), now=lambda: clock[0])
    listener = feed.listen(ACCOUNT)
    reads = 0

    async def book() -> list[dict[str, Any]]:
        nonlocal reads
        reads += 1
        return [order("1", "COMPLETE")]

    try:
        feed.upstream_back(ACCOUNT, book)  # no outage open: nothing to reconcile
        began = clock[0]
        feed.outage_began(ACCOUNT, GapReason.UPSTREAM_DISCONNECTED)
        clock[0] += timedelta(seconds=5)
        feed.outage_began(ACCOUNT, GapReason.GATEWAY_RESTARTED)  # the outage already open is kept
        clock[0] += timedelta(seconds=5)
        feed.upstream_back(ACCOUNT, book)
        await feed.stop()
        feed.upstream_back(ACCOUNT, book)  # closed: not reconciled twice
        await feed.stop()
    finally:
        await database.close()
    assert reads == 1
    (gap,) = listener.gaps
    assert gap == Gap(
        reason=GapReason.UPSTREAM_DISCONNECTED,
        action=GapAction.RECONCILED,
        reconciled_updates=1,
        message="the ticker connection was down; 1 update(s) recovered from the order book",
        start=began,
        end=began + timedelta(seconds=10),
    )
    assert listener.wake.is_set()


async def test_a_restart_gap_says_the_gateway_was_not_watching_and_skips_orders_it_already_knows(
    feed: OrderUpdateFeed,
) -> None:
    await feed.ingest(ACCOUNT, order("1", "COMPLETE"), UpdateSource.WEBSOCKET)
    listener = feed.listen(ACCOUNT)

    async def book() -> list[dict[str, Any]]:
        return [order("1", "COMPLETE", order_timestamp=datetime(2026, 11, 24, 10, 30))]  # as kiteconnect parses it

    assert await feed.reconcile(ACCOUNT, book, datetime.now(UTC), GapReason.GATEWAY_RESTARTED) == 0
    (gap,) = listener.gaps
    assert gap.reason == GapReason.GATEWAY_RESTARTED and gap.action == GapAction.RECONCILED
    assert gap.message.startswith("the gateway was not watching this account")
    assert await feed.log.newest(ACCOUNT) == 1


async def test_an_unreadable_order_book_is_a_gap_with_nothing_recovered(feed: OrderUpdateFeed) -> None:
    listener = feed.listen(ACCOUNT)

    async def book() -> list[dict[str, Any]]:
        raise GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, "Kite could not be reached")

    assert await feed.reconcile(ACCOUNT, book, datetime.now(UTC)) == 0
    (gap,) = listener.gaps
    assert (gap.action, gap.reconciled_updates) == (GapAction.NONE, 0)
    assert gap.message == "order book unreadable: Kite could not be reached"


async def test_a_forgotten_listener_is_no_longer_woken(feed: OrderUpdateFeed) -> None:
    kept, gone = feed.listen(ACCOUNT), feed.listen(ACCOUNT)
    feed.forget(ACCOUNT, gone)
    await feed.ingest(ACCOUNT, order("1"), UpdateSource.WEBSOCKET)
    assert kept.wake.is_set() and not gone.wake.is_set()

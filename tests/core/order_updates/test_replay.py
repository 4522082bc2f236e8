"""A subscriber's order-update stream as a unit, over the real durable log: it resumes after a
sequence, refuses one beyond the newest, says once that the replay is complete and then goes live,
hands over gaps, and beats when nothing else happens. The live source is the test itself,
ingesting as the ticker would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import pytest

from kite_gateway.core.order_updates import (
    DuplicateReport,
    Event,
    Gap,
    GapAction,
    GapReason,
    Heartbeat,
    OrderUpdate,
    OrderUpdateFeed,
    OrderUpdateReplay,
    ReplayComplete,
    UpdateSource,
)
from kite_gateway.errors import GatewayError, Reason, Status
from tests.core.order_updates.conftest import ACCOUNT, order

NOON = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)


class Upstream:
    """The tick hub's view of the account's ticker connection."""

    def __init__(self, state: int | None) -> None:
        self.state = state
        self.asked: list[str] = []

    def __call__(self, account_id: str) -> int | None:
        self.asked.append(account_id)
        return self.state


class ClientIds:
    """The idempotency store's tag -> client_order_id, counting how often it is read."""

    def __init__(self, ids: dict[str, str] | None = None) -> None:
        self.ids = ids or {}
        self.reads = 0

    async def __call__(self, account_id: str) -> dict[str, str]:
        self.reads += 1
        return dict(self.ids)


def replay(feed: OrderUpdateFeed, upstream: Upstream | None = None, ids: ClientIds | None = None) -> OrderUpdateReplay:
    return OrderUpdateReplay(feed, ids or ClientIds(), upstream or Upstream(None), now=lambda: NOON)


async def next_event(events: AsyncGenerator[Event, None]) -> Event:
    async with asyncio.timeout(5):
        return await anext(events)


async def until_replay_complete(events: AsyncGenerator[Event, None]) -> list[Event]:
    seen = [await next_event(events)]
    while not isinstance(seen[-1], ReplayComplete):
        seen.append(await next_event(events))
    return seen


async def store(feed: OrderUpdateFeed, *statuses: str) -> None:
    for n, status in enumerate(statuses, 1):
        assert await feed.ingest(ACCOUNT, order(str(n), status), UpdateSource.WEBSOCKET)


async def test_a_stream_resumed_after_a_sequence_replays_only_the_later_updates_then_says_the_replay_is_complete(
    feed: OrderUpdateFeed,
) -> None:
    await store(feed, "OPEN", "OPEN", "COMPLETE")
    events = replay(feed).events(ACCOUNT, after=1, heartbeat_every=60)
    try:
        seen = await until_replay_complete(events)
    finally:
        await events.aclose()
    updates = [e for e in seen if isinstance(e, OrderUpdate)]
    assert [(u.sequence, u.order["order_id"], u.source) for u in updates] == [
        (2, "2", UpdateSource.WEBSOCKET),
        (3, "3", UpdateSource.WEBSOCKET),
    ]
    assert seen[-1] == ReplayComplete(last_sequence=3) and len(seen) == 3
    assert "checksum" not in updates[0].order and "user_id" not in updates[0].order  # envelope fields are dropped


async def test_a_stream_resumed_from_zero_replays_everything_kept(feed: OrderUpdateFeed) -> None:
    await store(feed, "OPEN", "COMPLETE")
    events = replay(feed).events(ACCOUNT, after=0, heartbeat_every=60)
    try:
        seen = await until_replay_complete(events)
    finally:
        await events.aclose()
    assert [e.sequence for e in seen if isinstance(e, OrderUpdate)] == [1, 2]


async def test_a_live_only_stream_replays_nothing_and_its_replay_complete_is_the_newest_sequence(
    feed: OrderUpdateFeed,
) -> None:
    await store(feed, "OPEN", "COMPLETE")
    events = replay(feed).events(ACCOUNT, after=None, heartbeat_every=60)
    try:
        assert await next_event(events) == ReplayComplete(last_sequence=2)
    finally:
        await events.aclose()


async def test_resuming_beyond_the_newest_sequence_is_out_of_range_and_names_the_newest(feed: OrderUpdateFeed) -> None:
    await store(feed, "OPEN")
    events = replay(feed).events(ACCOUNT, after=2, heartbeat_every=60)
    with pytest.raises(GatewayError) as caught:
        await next_event(events)
    assert (caught.value.code, caught.value.reason) == (Status.OUT_OF_RANGE, Reason.SEQUENCE_OUT_OF_RANGE)
    assert caught.value.metadata["newest_sequence"] == "1"
    assert not feed.listeners.get(ACCOUNT)  # it never listened


async def test_after_the_replay_an_update_stored_live_arrives_with_the_next_sequence(feed: OrderUpdateFeed) -> None:
    await store(feed, "OPEN")
    events = replay(feed).events(ACCOUNT, after=0, heartbeat_every=60)
    try:
        await until_replay_complete(events)
        waiting = asyncio.create_task(next_event(events))
        await feed.ingest(ACCOUNT, order("1", "COMPLETE"), UpdateSource.WEBSOCKET)
        live = await waiting
    finally:
        await events.aclose()
    assert isinstance(live, OrderUpdate)
    assert (live.sequence, live.order["status"], live.source) == (2, "COMPLETE", UpdateSource.WEBSOCKET)


async def test_a_repeat_of_a_stored_change_is_not_sent_again(feed: OrderUpdateFeed) -> None:
    await store(feed, "OPEN")
    assert not await feed.ingest(ACCOUNT, order("1", "OPEN"), UpdateSource.POSTBACK)
    events = replay(feed).events(ACCOUNT, after=0, heartbeat_every=60)
    try:
        seen = await until_replay_complete(events)
    finally:
        await events.aclose()
    assert [e.sequence for e in seen if isinstance(e, OrderUpdate)] == [1]


async def test_a_quiet_stream_beats_with_the_server_time_and_the_accounts_upstream_state(
    feed: OrderUpdateFeed,
) -> None:
    upstream = Upstream(2)
    events = replay(feed, upstream).events(ACCOUNT, after=None, heartbeat_every=0.01)
    try:
        assert await next_event(events) == ReplayComplete(last_sequence=0)
        assert await next_event(events) == Heartbeat(server_time=NOON, upstream_state=2)
        upstream.state = None  # the account's ticker connection is gone
        assert await next_event(events) == Heartbeat(server_time=NOON, upstream_state=None)
    finally:
        await events.aclose()
    assert upstream.asked == [ACCOUNT, ACCOUNT]


async def test_a_reconciliation_streams_the_recovered_updates_and_a_gap_marker_saying_how_many(
    feed: OrderUpdateFeed,
) -> None:
    await store(feed, "OPEN")
    events = replay(feed).events(ACCOUNT, after=None, heartbeat_every=60)
    since = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)

    async def book() -> list[dict[str, Any]]:  # order 1 completed while nobody heard it; order 9 is new
        return [order("1", "COMPLETE"), order("9", "OPEN", tradingsymbol="TCS")]

    try:
        assert await next_event(events) == ReplayComplete(last_sequence=1)
        assert await feed.reconcile(ACCOUNT, book, since) == 2
        seen = [await next_event(events) for _ in range(3)]
    finally:
        await events.aclose()
    updates = [e for e in seen if isinstance(e, OrderUpdate)]
    (gap,) = [e for e in seen if isinstance(e, Gap)]  # before or after them, as the stream was woken
    assert [(u.sequence, u.order["order_id"], u.source) for u in updates] == [
        (2, "1", UpdateSource.RECONCILIATION),
        (3, "9", UpdateSource.RECONCILIATION),
    ]
    assert (gap.reason, gap.action, gap.reconciled_updates) == (
        GapReason.UPSTREAM_DISCONNECTED,
        GapAction.RECONCILED,
        2,
    )
    assert gap.start == since and gap.end >= since and "2 update(s) recovered" in gap.message


async def test_the_client_order_id_of_an_update_is_looked_up_only_for_a_tag_not_seen_before(
    feed: OrderUpdateFeed,
) -> None:
    ids = ClientIds({"kg1": "my-order"})
    await feed.ingest(ACCOUNT, order("1", "OPEN", tag="kg1"), UpdateSource.WEBSOCKET)
    await feed.ingest(ACCOUNT, order("1", "COMPLETE", tag="kg1"), UpdateSource.WEBSOCKET)
    await feed.ingest(ACCOUNT, order("2", "OPEN"), UpdateSource.WEBSOCKET)
    events = replay(feed, ids=ids).events(ACCOUNT, after=0, heartbeat_every=60)
    try:
        seen = await until_replay_complete(events)
    finally:
        await events.aclose()
    assert [e.client_order_id for e in seen if isinstance(e, OrderUpdate)] == ["my-order", "my-order", ""]
    assert ids.reads == 1


async def test_a_reported_duplicate_is_streamed_as_an_update_from_the_gateway_with_its_report(
    feed: OrderUpdateFeed,
) -> None:
    marker = {"client_order_id": "c1", "kept_order_id": "1", "duplicate_order_id": "2", "action": 1,
              "message": "order 2 duplicates order 1"}  # fmt: skip
    duplicate = order("2", "OPEN", order_timestamp=datetime(2026, 11, 24, 10, 31))
    await feed.report_duplicate(ACCOUNT, duplicate, marker)
    await feed.report_duplicate(ACCOUNT, duplicate, marker)  # reported once, whatever saw it
    events = replay(feed).events(ACCOUNT, after=0, heartbeat_every=60)
    try:
        seen = await until_replay_complete(events)
    finally:
        await events.aclose()
    (update, _complete) = seen
    assert isinstance(update, OrderUpdate) and update.source == UpdateSource.GATEWAY
    assert update.duplicate == DuplicateReport("c1", "1", "2", 1, "order 2 duplicates order 1")
    assert update.order["order_timestamp"] == "2026-11-24 10:31:00" and "_duplicate" not in update.order


async def test_the_stream_listens_before_it_starts_the_live_feed_and_stops_listening_when_closed(
    feed: OrderUpdateFeed,
) -> None:
    listening_at_start: list[int] = []

    async def start_live() -> None:
        listening_at_start.append(len(feed.listeners.get(ACCOUNT, ())))

    events = replay(feed).events(ACCOUNT, after=None, heartbeat_every=60, start_live=start_live)
    await next_event(events)
    assert listening_at_start == [1] and len(feed.listeners[ACCOUNT]) == 1
    await events.aclose()
    assert not feed.listeners[ACCOUNT]


# Resuming from a pruned sequence (retention: kite_gateway/storage/retention.py).


async def prune_through(feed: OrderUpdateFeed, sequence: int) -> None:
    """What the retention window does: the account's updates up to `sequence` deleted."""
    await feed.log.database.execute(
        "DELETE FROM order_updates WHERE account_id = ? AND sequence <= ?", (ACCOUNT, sequence)
    )


async def test_resuming_from_a_pruned_sequence_says_retention_exceeded_up_to_the_oldest_kept_then_replays_and_goes_live(
    feed: OrderUpdateFeed,
) -> None:
    await store(feed, "OPEN", "OPEN", "OPEN", "COMPLETE", "COMPLETE")
    await prune_through(feed, 3)
    events = replay(feed).events(ACCOUNT, after=1, heartbeat_every=60)
    try:
        seen = await until_replay_complete(events)
        await feed.ingest(ACCOUNT, order("6", "OPEN"), UpdateSource.WEBSOCKET)
        live = await next_event(events)
    finally:
        await events.aclose()
    gap, *rest = seen
    assert isinstance(gap, Gap)
    assert (gap.reason, gap.action, gap.oldest_available_sequence) == (
        GapReason.RETENTION_EXCEEDED,
        GapAction.NONE,
        4,
    )
    assert "updates 2 to 3" in gap.message and gap.reconciled_updates == 0
    assert [e.sequence for e in rest if isinstance(e, OrderUpdate)] == [4, 5]
    assert rest[-1] == ReplayComplete(last_sequence=5)
    assert isinstance(live, OrderUpdate) and live.sequence == 6


async def test_resuming_from_zero_after_pruning_marks_the_gap_from_the_first_sequence(feed: OrderUpdateFeed) -> None:
    await store(feed, "OPEN", "OPEN", "COMPLETE")
    await prune_through(feed, 2)
    events = replay(feed).events(ACCOUNT, after=0, heartbeat_every=60)
    try:
        seen = await until_replay_complete(events)
    finally:
        await events.aclose()
    assert isinstance(seen[0], Gap) and seen[0].oldest_available_sequence == 3
    assert "updates 1 to 2" in seen[0].message
    assert [e.sequence for e in seen if isinstance(e, OrderUpdate)] == [3]


async def test_resuming_right_before_the_oldest_kept_update_is_no_gap(feed: OrderUpdateFeed) -> None:
    await store(feed, "OPEN", "OPEN", "COMPLETE")
    await prune_through(feed, 2)
    events = replay(feed).events(ACCOUNT, after=2, heartbeat_every=60)
    try:
        seen = await until_replay_complete(events)
    finally:
        await events.aclose()
    assert not any(isinstance(e, Gap) for e in seen)
    assert [e.sequence for e in seen if isinstance(e, OrderUpdate)] == [3]

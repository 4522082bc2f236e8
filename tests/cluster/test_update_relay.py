"""Order updates across replicas through a real nats-server: the owner's feed stores, a subscriber
on another replica (its own connection to the same database) is woken by the bus and reads the same
contiguous sequence; with NATS down the poll still delivers, and after the restart the bus does
again; gap markers reach the other replica's live subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.cluster.bus import Bus
from kite_gateway.cluster.update_relay import UpdateRelay
from kite_gateway.core.order_updates import (
    Event,
    Gap,
    GapAction,
    GapReason,
    OrderUpdate,
    OrderUpdateFeed,
    OrderUpdateReplay,
    UpdateSource,
)
from kite_gateway.storage import SqliteDatabase as Database
from kite_gateway.storage.order_updates import OrderUpdateLog
from tests.core.order_updates.conftest import ACCOUNT, order
from tests.support.nats import NatsServer

HEARTBEAT = 60.0  # so long that no test is served by the replay's own heartbeat re-read


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.005)


async def no_client_ids(_account_id: str) -> dict[str, str]:
    return {}


@dataclass
class Subscriber:
    """A StreamOrderUpdates caller: its events, as the replay hands them over."""

    events: list[Event] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def sequences(self) -> list[int]:
        return [e.sequence for e in self.events if isinstance(e, OrderUpdate)]

    @property
    def gaps(self) -> list[Gap]:
        return [e for e in self.events if isinstance(e, Gap)]


@dataclass
class Replica:
    database: Database
    feed: OrderUpdateFeed
    bus: Bus
    relay: UpdateRelay
    subscribers: list[Subscriber] = field(default_factory=list)

    def subscribe(self, after: int | None = 0) -> Subscriber:
        replay = OrderUpdateReplay(self.feed, no_client_ids, lambda _account: None)
        subscriber = Subscriber()

        async def run() -> None:
            async for event in replay.events(ACCOUNT, after, HEARTBEAT):
                subscriber.events.append(event)

        subscriber.task = asyncio.create_task(run())
        self.subscribers.append(subscriber)
        return subscriber

    async def close(self) -> None:
        for subscriber in self.subscribers:
            if subscriber.task is not None:
                subscriber.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await subscriber.task
        await self.relay.stop()
        await self.feed.stop()
        await self.bus.close()
        await self.database.close()


async def replica(path: Path, url: str, name: str, poll_every: float, prefix: str = "kg") -> Replica:
    database = Database(path)  # each replica its own connection to the one database
    await database.open()
    feed = OrderUpdateFeed(OrderUpdateLog(database))
    bus = Bus(url, prefix=prefix)
    assert await bus.start(wait=5)
    relay = UpdateRelay(bus, feed, name, poll_every=poll_every)
    await relay.start()
    return Replica(database, feed, bus, relay)


async def store(owner: Replica, first: int, count: int) -> None:
    for n in range(first, first + count):
        assert await owner.feed.ingest(ACCOUNT, order(f"O{n}"), UpdateSource.WEBSOCKET)


@pytest.fixture
async def pair(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[tuple[Replica, Replica]]:
    prefix = f"t{time.monotonic_ns()}"
    owner = await replica(tmp_path / "gateway.db", nats_server.url, "a", 60.0, prefix)
    other = await replica(tmp_path / "gateway.db", nats_server.url, "b", 60.0, prefix)  # no poll in time
    yield owner, other
    await other.close()
    await owner.close()


async def test_an_update_stored_on_the_owner_wakes_a_subscriber_on_another_replica_through_the_bus(
    pair: tuple[Replica, Replica],
) -> None:
    owner, other = pair
    there, here = other.subscribe(after=0), owner.subscribe(after=0)
    await eventually(lambda: bool(other.feed.listeners.get(ACCOUNT)), "the subscriber listens")
    await store(owner, 1, 20)
    await eventually(lambda: len(there.sequences) == 20, "the other replica's subscriber has all 20")
    assert there.sequences == list(range(1, 21))
    await eventually(lambda: len(here.sequences) == 20, "the owner's subscriber has all 20")
    assert here.sequences == there.sequences
    assert other.relay.woken_by_bus > 0 and other.relay.woken_by_poll == 0  # the bus did it, not the poll


async def test_a_gap_marker_on_the_owner_reaches_the_other_replicas_live_subscriber(
    pair: tuple[Replica, Replica],
) -> None:
    owner, other = pair
    there = other.subscribe(after=0)
    await eventually(lambda: bool(other.feed.listeners.get(ACCOUNT)), "the subscriber listens")

    async def book() -> list[dict[str, Any]]:
        return [order("R1", "COMPLETE")]

    since = datetime.now(UTC) - timedelta(seconds=30)
    assert await owner.feed.reconcile(ACCOUNT, book, since, GapReason.UPSTREAM_DISCONNECTED) == 1
    await eventually(lambda: len(there.gaps) == 1 and there.sequences == [1], "the gap and the update arrived")
    (gap,) = there.gaps
    assert (gap.reason, gap.action) == (GapReason.UPSTREAM_DISCONNECTED, GapAction.RECONCILED)
    assert gap.reconciled_updates == 1
    assert gap.start == since and "1 update(s) recovered" in gap.message


async def test_across_a_nats_restart_the_poll_delivers_and_every_subscriber_sees_one_contiguous_sequence(
    tmp_path: Path, own_nats: NatsServer
) -> None:
    owner = await replica(tmp_path / "gateway.db", own_nats.url, "a", 0.3)
    other = await replica(tmp_path / "gateway.db", own_nats.url, "b", 0.3)
    try:
        there = other.subscribe(after=0)
        await eventually(lambda: bool(other.feed.listeners.get(ACCOUNT)), "the subscriber listens")
        await store(owner, 1, 5)
        await eventually(lambda: there.sequences == [1, 2, 3, 4, 5], "the first five arrived")
        own_nats.stop()
        await eventually(lambda: not owner.bus.healthy() and not other.bus.healthy(), "both see the bus down")
        await store(owner, 6, 5)  # their bus messages are lost
        await eventually(lambda: len(there.sequences) == 10, "the poll delivered what the bus could not")
        assert other.relay.woken_by_poll > 0
        own_nats.start()
        await eventually(lambda: owner.bus.healthy() and other.bus.healthy(), "both reconnected")
        woken = other.relay.woken_by_bus
        await store(owner, 11, 5)
        await eventually(lambda: len(there.sequences) == 15, "the bus delivers again")
        assert other.relay.woken_by_bus > woken
        assert there.sequences == list(range(1, 16))  # no hole, no duplicate
        resumed = other.subscribe(after=7)  # a caller resuming with its last sequence, on this replica
        await eventually(lambda: len(resumed.sequences) == 8, "the resumed stream caught up")
        assert resumed.sequences == list(range(8, 16))
    finally:
        await other.close()
        await owner.close()

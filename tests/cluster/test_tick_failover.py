"""Tick subscribers on every replica while the account's owner (the replica holding Kite's ticker
connection) is killed (SIGKILL), and while every replica is restarted in turn: each subscriber keeps
receiving ticks, or resumes (on the next replica, when its own went away) within a few seconds; and
the rolling restart, with those streams open, fails no PlaceOrder retried by the client's policy."""

from __future__ import annotations

import asyncio
import time

from kite_gateway_api.v1 import order_pb2, order_pb2_grpc
from kite_gateway_client import GatewayCallError
from kite_gateway_client.retry import RetryPolicy

from tests.cluster.conftest import APPS, eventually, owners, replica_named, round_robin
from tests.cluster.subscribers import TickSubscriber
from tests.e2e.conftest import market_buy
from tests.support.cluster import Cluster

ACCOUNT = "ZS0001"
SYMBOLS = ("NSE:INFY", "NSE:TCS")
# The longest a subscriber may go without a tick across a fault: the lease's move (ttl 2 s, then a
# round), the new owner's ticker connection, and a resumption elsewhere; the simulator ticks each second.
SILENCE_BOUND = 8.0


def tick_subscribers(cluster: Cluster) -> list[TickSubscriber]:
    addresses = [r.address for r in cluster.replicas]
    return [
        TickSubscriber(f"ticks-{i}", addresses[i:] + addresses[:i], account_id=ACCOUNT, symbols=SYMBOLS)
        for i in range(len(addresses))
    ]


def describe(subscribers: list[TickSubscriber], since: float) -> str:
    return "; ".join(
        f"{s.name}: streams {s.streams}, ticks since {s.ticks_since(since)}, "
        f"silence {s.longest_silence(since, time.monotonic()):.1f}s, unexpected {s.unexpected}"
        for s in subscribers
    )


async def ticking(subscribers: list[TickSubscriber], since: float, count: int = 3) -> None:
    """Every subscriber has had `count` ticks since `since`."""
    await eventually(
        lambda: all(s.ticks_since(since) >= count for s in subscribers), lambda: describe(subscribers, since)
    )


async def test_tick_subscribers_on_every_replica_resume_within_seconds_when_the_owner_is_killed(
    cluster: Cluster, database_url: str
) -> None:
    victim = replica_named(cluster, (await owners(database_url))["app_one"])
    subscribers = tick_subscribers(cluster)
    for subscriber in subscribers:
        subscriber.start()
    try:
        await ticking(subscribers, time.monotonic())
        await asyncio.to_thread(victim.kill)
        killed_at = time.monotonic()
        await ticking(subscribers, killed_at + SILENCE_BOUND)  # and still ticking well after it
        end = time.monotonic()
    finally:
        for subscriber in subscribers:
            await subscriber.stop()
    for subscriber in subscribers:
        assert subscriber.longest_silence(killed_at, end) < SILENCE_BOUND, describe(subscribers, killed_at)
        assert subscriber.unexpected == [], describe(subscribers, killed_at)
    on_victim = subscribers[[r.name for r in cluster.replicas].index(victim.name)]
    assert len(on_victim.streams) > 1, describe(subscribers, killed_at)  # it resumed on a survivor
    assert (await owners(database_url)).get("app_one") not in (None, victim.name)


async def steady_orders(cluster: Cluster, stop: asyncio.Event, failed: list[str]) -> int:
    """PlaceOrders round the accounts, each retried as the client's retry policy does; how many were placed."""
    policy = RetryPolicy()
    placed = 0
    async with round_robin(cluster) as channel:
        orders = order_pb2_grpc.OrderServiceStub(channel)
        while not stop.is_set():
            account = list(APPS)[placed % len(APPS)]
            request = order_pb2.PlaceOrderRequest(
                account_id=account, client_order_id=f"steady-{placed}", params=market_buy()
            )
            try:
                await policy.run(lambda r=request: orders.PlaceOrder(r, timeout=5))  # type: ignore[misc]
            except GatewayCallError as error:
                failed.append(f"{request.client_order_id}: {error}")
                return placed
            placed += 1
    return placed


async def test_tick_streams_resume_within_seconds_and_no_order_fails_through_a_rolling_restart_with_streams_open(
    cluster: Cluster,
) -> None:
    # Each replica's streams end as it stops (they must not hold its leases for the whole grace period).
    subscribers = tick_subscribers(cluster)
    for subscriber in subscribers:
        subscriber.start()
    stop, failed = asyncio.Event(), list[str]()
    try:
        await ticking(subscribers, time.monotonic())
        load = asyncio.create_task(steady_orders(cluster, stop, failed))
        began = time.monotonic()
        for replica in cluster.replicas:
            await asyncio.to_thread(cluster.restart, replica)
            await ticking(subscribers, time.monotonic(), count=1)
        await ticking(subscribers, time.monotonic())
        end = time.monotonic()
        stop.set()
        placed = await load
    finally:
        stop.set()
        for subscriber in subscribers:
            await subscriber.stop()
    assert failed == [] and placed > 0, failed
    for subscriber in subscribers:
        assert subscriber.longest_silence(began, end) < SILENCE_BOUND, describe(subscribers, began)
        assert subscriber.unexpected == [], describe(subscribers, began)
        assert len(subscriber.streams) > 1, describe(subscribers, began)  # its replica restarted under it

"""The cluster's NATS server goes away (stopped, or killed) and comes back on the same port, while
tick and order-update subscribers stream one account on every replica and orders keep being placed:
meanwhile every replica reports NOT_SERVING (the overall entry "" and dependency/nats); afterwards
health is SERVING again, ticks flow again on the replicas that do not own the account (they are fed
from the bus), and every order-update subscriber has one contiguous sequence with every order placed
before, during and after (the log in PostgreSQL is the truth; the bus only wakes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kite_gateway_api.v1 import common_pb2, order_pb2_grpc

from kite_simulator import Simulator
from tests.cluster.conftest import eventually, owners, place_with_retries, round_robin, running_cluster
from tests.cluster.subscribers import OrderUpdateSubscriber, TickSubscriber
from tests.support.cluster import Cluster
from tests.support.nats import NatsServer

ACCOUNT = "ZS0001"
SYMBOLS = ("NSE:INFY", "NSE:TCS")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
async def cluster_on_own_bus(
    tmp_path: Path, live_sim: Simulator, database_url: str, own_nats: NatsServer
) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path, live_sim, database_url, own_nats.url) as running:
        yield running


async def health(address: str, service: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
    return int(reply.status)


async def every_replica_reports(cluster: Cluster, status: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        found = {r.name: [await health(r.address, s) for s in ("", "dependency/nats")] for r in cluster.replicas}
        if all(statuses == [status, status] for statuses in found.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"health (overall, nats) is {found}, not {status} everywhere, within {within}s")
        await asyncio.sleep(0.2)


def describe(subscribers: list[OrderUpdateSubscriber], ticks: list[TickSubscriber], since: float) -> str:
    return "; ".join(
        [f"{s.name}: last {s.last}, streams {s.streams}, unexpected {s.unexpected}" for s in subscribers]
        + [f"{t.name}: ticks since {t.ticks_since(since)}, streams {t.streams}, {t.unexpected}" for t in ticks]
    )


@pytest.mark.parametrize("outage", ["stop", "kill"])
async def test_a_bus_outage_shows_not_serving_then_ticks_and_order_updates_resume_with_nothing_lost(
    cluster_on_own_bus: Cluster, own_nats: NatsServer, database_url: str, outage: str
) -> None:
    cluster = cluster_on_own_bus
    owner = (await owners(database_url))["app_one"]
    others = [r for r in cluster.replicas if r.name != owner]
    addresses = [r.address for r in cluster.replicas]
    updates = [
        OrderUpdateSubscriber(f"orders-{r.name}", [r.address, *addresses], account_id=ACCOUNT) for r in cluster.replicas
    ]
    ticks = [TickSubscriber(f"ticks-{r.name}", [r.address], account_id=ACCOUNT, symbols=SYMBOLS) for r in others]
    for subscriber in [*updates, *ticks]:
        subscriber.start()
    try:
        began = time.monotonic()
        await eventually(
            lambda: all(s.live for s in updates) and all(t.ticks_since(began) >= 2 for t in ticks),
            lambda: describe(updates, ticks, began),
        )
        await every_replica_reports(cluster, SERVING)
        async with round_robin(cluster) as channel:
            orders = order_pb2_grpc.OrderServiceStub(channel)
            placed = [await place_with_retries(orders, ACCOUNT, f"before-{i}") for i in range(3)]

            down = time.monotonic()
            await asyncio.to_thread(own_nats.stop if outage == "stop" else own_nats.kill)
            try:
                await every_replica_reports(cluster, NOT_SERVING)
                placed += [await place_with_retries(orders, ACCOUNT, f"during-{i}") for i in range(3)]
            finally:
                await asyncio.to_thread(own_nats.start)
            back = time.monotonic()

            await every_replica_reports(cluster, SERVING)
            placed += [await place_with_retries(orders, ACCOUNT, f"after-{i}") for i in range(3)]
        # Ticks come from the owner over the bus again, on every replica that does not own the account.
        await eventually(lambda: all(t.ticks_since(back) >= 3 for t in ticks), lambda: describe(updates, ticks, back))
        await eventually(
            lambda: all(set(placed) <= s.completed() for s in updates), lambda: describe(updates, ticks, back)
        )
    finally:
        for subscriber in [*updates, *ticks]:
            await subscriber.stop()
    for subscriber in updates:
        assert subscriber.sequences() == list(range(1, len(subscriber.updates) + 1)), describe(updates, ticks, back)
        assert subscriber.unexpected == [], describe(updates, ticks, back)
    assert all(t.unexpected == [] for t in ticks), describe(updates, ticks, back)
    for t in ticks:  # the outage reached them as the owner's upstream lost, and its end as connected again
        assert common_pb2.UPSTREAM_STATE_RECONNECTING in t.states_between(down, back), t.states
        assert t.states[-1][1] == common_pb2.UPSTREAM_STATE_CONNECTED, t.states
    assert len({tuple((u.sequence, u.order_id, u.status) for u in s.updates) for s in updates}) == 1

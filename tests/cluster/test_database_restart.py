"""The cluster's PostgreSQL server stops (or crashes: SIGKILL) and starts again (the same server, its
data kept): while it is down every replica reports NOT_SERVING in grpc.health.v1 (the overall entry
"" and dependency/database) and PlaceOrder answers UNAVAILABLE, never INTERNAL or UNKNOWN; once it is
back health turns SERVING again, every lease is held, orders are accepted, and nothing durable was
lost: an order placed before answers replayed=True with its order id, and each client_order_id has
exactly one order at Kite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kite_gateway_api.v1 import order_pb2, order_pb2_grpc

from kite_simulator import Simulator
from tests.cluster.conftest import (
    APPS,
    orders_at_kite,
    place_with_retries,
    round_robin,
    running_cluster,
    wait_for_owners,
)
from tests.e2e.conftest import market_buy
from tests.support.cluster import Cluster
from tests.support.nats import NatsServer
from tests.support.postgres import PostgresServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
WITHIN = 30.0  # seconds for health to follow the database (a lease round, then a health publication)


@pytest.fixture
async def cluster_on_own_database(
    tmp_path: Path, live_sim: Simulator, own_postgres: PostgresServer, nats_server: NatsServer
) -> AsyncIterator[tuple[Cluster, str]]:
    url = own_postgres.new_database()
    async with running_cluster(tmp_path, live_sim, url, nats_server.url) as running:
        yield running, url


async def health(address: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
    return int(reply.status)


async def every_replica_reports(cluster: Cluster, status: int, within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while True:
        found = {r.name: [await health(r.address, s) for s in ("", "dependency/database")] for r in cluster.replicas}
        if all(statuses == [status, status] for statuses in found.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"health (overall, database) is {found}, not {status} everywhere, within {within}s")
        await asyncio.sleep(0.2)


async def refused_while_down(cluster: Cluster, client_order_id: str) -> list[tuple[str, str, str]]:
    """PlaceOrder on every replica, for every account: (replica, account, code) of each answer."""
    answers = []
    for replica in cluster.replicas:
        async with grpc.aio.insecure_channel(replica.address) as channel:
            orders = order_pb2_grpc.OrderServiceStub(channel)
            for account in APPS:
                request = order_pb2.PlaceOrderRequest(
                    account_id=account, client_order_id=client_order_id, params=market_buy()
                )
                try:
                    await orders.PlaceOrder(request, timeout=10)
                    code = "OK"
                except grpc.aio.AioRpcError as exc:
                    code = exc.code().name
                answers.append((replica.name, account, code))
    return answers


@pytest.mark.parametrize("outage", ["stop", "kill"])
async def test_a_database_restart_shows_not_serving_refuses_orders_unavailable_and_loses_nothing(
    cluster_on_own_database: tuple[Cluster, str], own_postgres: PostgresServer, live_sim: Simulator, outage: str
) -> None:
    cluster, url = cluster_on_own_database
    async with round_robin(cluster) as channel:
        orders = order_pb2_grpc.OrderServiceStub(channel)
        before = {account: await place_with_retries(orders, account, "before") for account in APPS}
        await every_replica_reports(cluster, SERVING)

        await asyncio.to_thread(own_postgres.stop if outage == "stop" else own_postgres.kill)
        try:
            answers = await refused_while_down(cluster, "during")  # at once, before anyone noticed
            await every_replica_reports(cluster, NOT_SERVING)
            answers += await refused_while_down(cluster, "during")  # and once every replica knows
        finally:
            await asyncio.to_thread(own_postgres.start)
        assert {code for _, _, code in answers} == {"UNAVAILABLE"}, answers

        await every_replica_reports(cluster, SERVING)
        await wait_for_owners(url, len(APPS))
        for account in APPS:
            replay = await orders.PlaceOrder(
                order_pb2.PlaceOrderRequest(account_id=account, client_order_id="before", params=market_buy()),
                timeout=10,
            )
            assert (replay.order_id, replay.replayed) == (before[account], True), account
        during = {account: await place_with_retries(orders, account, "during") for account in APPS}
        after = {account: await place_with_retries(orders, account, "after") for account in APPS}
    for account in APPS:
        at_kite = orders_at_kite(live_sim, account, ["before", "during", "after"])
        assert at_kite == {
            "before": [before[account]],
            "during": [during[account]],
            "after": [after[account]],
        }, account

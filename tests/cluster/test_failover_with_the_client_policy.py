"""At the production lease time (6 s), an order for an account whose owner was just killed
(SIGKILL) is placed by the Python client's default retry policy alone: the replicas' RetryInfo
says to wait until the dead owner's lease can move, so a few retries are enough."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from kite_gateway_api.v1 import order_pb2, order_pb2_grpc
from kite_gateway_client.retry import DEFAULT_RETRY

from kite_simulator import Simulator
from tests.cluster.conftest import orders_at_kite, owners, replica_named, round_robin, running_cluster
from tests.e2e.conftest import market_buy
from tests.support.nats import NatsServer

PRODUCTION_TTL = 6.0


async def test_the_default_client_retry_policy_places_an_order_across_an_owners_kill_at_the_production_ttl(
    tmp_path: Path, live_sim: Simulator, database_url: str, nats_server: NatsServer
) -> None:
    async with running_cluster(tmp_path, live_sim, database_url, nats_server.url, PRODUCTION_TTL) as cluster:
        victim = replica_named(cluster, (await owners(database_url))["app_one"])
        request = order_pb2.PlaceOrderRequest(account_id="ZS0001", client_order_id="across-kill", params=market_buy())
        async with round_robin(cluster) as channel:
            orders = order_pb2_grpc.OrderServiceStub(channel)
            await asyncio.to_thread(victim.kill)
            killed_at = time.monotonic()
            reply = await DEFAULT_RETRY.run(lambda: orders.PlaceOrder(request, timeout=5))
            took = time.monotonic() - killed_at
        assert orders_at_kite(live_sim, "ZS0001", ["across-kill"]) == {"across-kill": [reply.order_id]}
        assert took < PRODUCTION_TTL * 4 / 3 + 3, f"placed {took:.1f}s after the kill"
        assert (await owners(database_url))["app_one"] != victim.name

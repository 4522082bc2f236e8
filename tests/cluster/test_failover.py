"""Three replicas in the clustered mode, as processes, over real PostgreSQL and NATS servers and one
Kite simulator: the faults a cluster meets in production, each injected for real.

- The owner of an account is killed (SIGKILL) in the middle of a burst of PlaceOrders: another
  replica takes its lease within the bound, and every client_order_id, retried on any replica,
  has exactly one order at Kite.
- An owner paused (SIGSTOP) past its lease and then resumed cannot write: its attempts are fenced
  out, and nothing is placed twice.
- A rolling restart of every replica under steady load fails no call of a caller that retries
  UNAVAILABLE as the client's retry policy does."""

from __future__ import annotations

import asyncio
import time

import grpc
from kite_gateway_api.v1 import order_pb2, order_pb2_grpc

from kite_simulator import Simulator
from tests.cluster.conftest import (
    APPS,
    LEASE_TTL,
    orders_at_kite,
    owners,
    place_with_retries,
    replica_named,
    round_robin,
    wait_for_owners,
)
from tests.e2e.conftest import market_buy
from tests.support.cluster import Cluster

FAILOVER_BOUND = 10.0  # seconds from SIGKILL to the first order accepted for a moved account


async def test_killing_an_accounts_owner_mid_burst_moves_it_in_bounded_time_and_places_each_order_once(
    cluster: Cluster, live_sim: Simulator, database_url: str
) -> None:
    held = await owners(database_url)
    victim = replica_named(cluster, held["app_one"])
    ids = [f"burst-{i}" for i in range(30)]
    async with round_robin(cluster) as channel:
        orders = order_pb2_grpc.OrderServiceStub(channel)
        first = await asyncio.gather(*(place_with_retries(orders, "ZS0001", c) for c in ids[:10]))
        burst = [asyncio.create_task(place_with_retries(orders, "ZS0001", c)) for c in ids[10:]]
        await asyncio.sleep(0)  # the burst is on its way when the owner dies
        await asyncio.to_thread(victim.kill)
        killed_at = time.monotonic()
        after = await place_with_retries(orders, "ZS0001", "after-kill")
        failover = time.monotonic() - killed_at
        rest = await asyncio.gather(*burst)
    placed = dict(zip(ids, [*first, *rest], strict=True))
    at_kite = orders_at_kite(live_sim, "ZS0001", [*ids, "after-kill"])
    assert {c: len(found) for c, found in at_kite.items() if len(found) != 1} == {}, cluster.logs()
    assert all(at_kite[c] == [placed[c]] for c in ids) and at_kite["after-kill"] == [after]
    assert failover < FAILOVER_BOUND, f"failover took {failover:.1f}s"
    moved = await wait_for_owners(database_url, len(APPS))
    assert moved["app_one"] != victim.name


async def test_an_owner_paused_past_its_lease_is_fenced_out_on_resume_and_places_nothing_twice(
    cluster: Cluster, live_sim: Simulator, database_url: str
) -> None:
    held = await owners(database_url)
    paused = replica_named(cluster, held["app_two"])
    async with grpc.aio.insecure_channel(paused.address) as direct, round_robin(cluster) as channel:
        stale = order_pb2_grpc.OrderServiceStub(direct)
        orders = order_pb2_grpc.OrderServiceStub(channel)
        await place_with_retries(orders, "ZS0002", "before-pause")
        request = order_pb2.PlaceOrderRequest(account_id="ZS0002", client_order_id="during-pause", params=market_buy())
        await asyncio.to_thread(paused.pause)
        try:
            # Sent to the paused owner: its kernel accepts the call, the process cannot answer yet.
            stale_call = stale.PlaceOrder(request, timeout=60)
            deadline = time.monotonic() + LEASE_TTL * 5
            while (await owners(database_url)).get("app_two") in (None, paused.name):
                assert time.monotonic() < deadline, "nobody took the paused replica's lease"
                await asyncio.sleep(0.1)
            placed = await place_with_retries(orders, "ZS0002", "during-pause")  # the caller retried elsewhere
        finally:
            await asyncio.to_thread(paused.resume)
        try:
            reply = await stale_call
            assert reply.order_id == placed and reply.replayed  # answered by the new owner's record
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc.details()
        again = await place_with_retries(orders, "ZS0002", "during-pause")
    assert again == placed
    at_kite = orders_at_kite(live_sim, "ZS0002", ["before-pause", "during-pause"])
    assert at_kite == {"before-pause": at_kite["before-pause"], "during-pause": [placed]}
    assert len(at_kite["before-pause"]) == 1


async def test_a_rolling_restart_of_every_replica_fails_no_call_of_a_retrying_caller(
    cluster: Cluster, live_sim: Simulator
) -> None:
    placed: list[str] = []
    stop = asyncio.Event()

    async def steady_load() -> None:
        async with round_robin(cluster) as channel:
            orders = order_pb2_grpc.OrderServiceStub(channel)
            index = 0
            while not stop.is_set():
                account = list(APPS)[index % len(APPS)]
                placed.append(await place_with_retries(orders, account, f"steady-{index}"))
                index += 1

    load = asyncio.create_task(steady_load())
    for replica in cluster.replicas:
        await asyncio.to_thread(cluster.restart, replica)
    stop.set()
    await load  # any call that failed for good raised in place_with_retries
    assert len(placed) == len(set(placed)) > 0
    for index, account in enumerate(APPS):
        ids = [f"steady-{i}" for i in range(index, len(placed), len(APPS))]
        assert all(len(found) == 1 for found in orders_at_kite(live_sim, account, ids).values())

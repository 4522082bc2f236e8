"""Order-update subscribers on every replica while the account's owner is killed (SIGKILL) in the
middle of a burst of PlaceOrders: each subscriber, resuming with its last sequence on the next
replica when its stream breaks, sees one contiguous sequence (no hole, no duplicate), a gap marker
where the new owner reconciled what nobody heard, and every order placed; and a replay from the
start on any replica is the same sequence."""

from __future__ import annotations

import asyncio
import time

import asyncpg
from kite_gateway_api.v1 import order_pb2, order_pb2_grpc
from kiteconnect import KiteConnect

from kite_simulator import Simulator
from tests.cluster.conftest import eventually, owners, place_with_retries, replica_named, round_robin
from tests.cluster.subscribers import OrderUpdateSubscriber
from tests.support.cluster import Cluster

ACCOUNT = "ZS0001"


async def newest_sequence(database_url: str, account_id: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        found = await connection.fetchval(
            "SELECT COALESCE(MAX(sequence), 0) FROM order_updates WHERE account_id = $1", account_id
        )
    finally:
        await connection.close()
    return int(found)


def subscribers_on_every_replica(cluster: Cluster) -> list[OrderUpdateSubscriber]:
    """One subscriber per replica, each resuming on the replicas after its own (round-robin)."""
    addresses = [r.address for r in cluster.replicas]
    return [
        OrderUpdateSubscriber(f"orders-{i}", addresses[i:] + addresses[:i], account_id=ACCOUNT)
        for i in range(len(addresses))
    ]


def placed_elsewhere(sim: Simulator) -> str:
    """An order placed at Kite by another app of the user: only reconciliation can find it."""
    api_key, token = sim.session_for(ACCOUNT)
    kite = KiteConnect(api_key, access_token=token, root=sim.api_url)
    order_id: str = kite.place_order("regular", "NSE", "INFY", "BUY", 1, "CNC", "MARKET", market_protection=-1)
    return order_id


def describe(subscriber: OrderUpdateSubscriber) -> str:
    return (
        f"{subscriber.name}: streams {subscriber.streams}, sequences {subscriber.sequences()}, "
        f"gaps {subscriber.gaps}, unexpected {subscriber.unexpected}"
    )


async def test_order_update_subscribers_on_every_replica_resume_contiguously_across_the_owners_kill(
    cluster: Cluster, live_sim: Simulator, database_url: str
) -> None:
    victim = replica_named(cluster, (await owners(database_url))["app_one"])
    subscribers = subscribers_on_every_replica(cluster)
    for subscriber in subscribers:
        subscriber.start()
    ids = [f"burst-{i}" for i in range(30)]
    try:
        await eventually(lambda: all(s.live for s in subscribers), lambda: str([describe(s) for s in subscribers]))
        async with round_robin(cluster) as channel:
            orders = order_pb2_grpc.OrderServiceStub(channel)
            first = await asyncio.gather(*(place_with_retries(orders, ACCOUNT, c) for c in ids[:10]))
            burst = [asyncio.create_task(place_with_retries(orders, ACCOUNT, c)) for c in ids[10:]]
            await asyncio.sleep(0)  # the burst is on its way when the owner dies
            await asyncio.to_thread(victim.kill)
            killed_at = time.monotonic()
            elsewhere = await asyncio.to_thread(placed_elsewhere, live_sim)  # while nobody watches the account
            after = await place_with_retries(orders, ACCOUNT, "after-kill")
            rest = await asyncio.gather(*burst)
        placed = {*first, *rest, after, elsewhere}
        for subscriber in subscribers:
            await eventually(lambda s=subscriber: placed <= s.completed(), lambda s=subscriber: describe(s))  # type: ignore[misc]
        newest = await newest_sequence(database_url, ACCOUNT)
        for subscriber in subscribers:
            await eventually(lambda s=subscriber: s.last >= newest, lambda s=subscriber: describe(s))  # type: ignore[misc]
    finally:
        for subscriber in subscribers:
            await subscriber.stop()

    for subscriber in subscribers:
        # One contiguous sequence across its streams and replicas: no hole, no duplicate.
        assert subscriber.sequences() == list(range(1, len(subscriber.updates) + 1)), describe(subscriber)
        assert subscriber.unexpected == [], describe(subscriber)
        # A marker of the takeover's gap, and every update reconciliation filled in is counted by one.
        takeover = [
            g
            for g in subscriber.gaps
            if g.at > killed_at
            and (g.reason, g.action) == (order_pb2.GAP_REASON_GATEWAY_RESTARTED, order_pb2.GAP_ACTION_RECONCILED)
        ]
        assert takeover and any(g.reconciled_updates >= 1 for g in takeover), describe(subscriber)
        reconciled = [u for u in subscriber.updates if u.source == order_pb2.ORDER_UPDATE_SOURCE_RECONCILIATION]
        assert sum(g.reconciled_updates for g in subscriber.gaps) == len(reconciled), describe(subscriber)
        assert elsewhere in {u.order_id for u in reconciled}, describe(subscriber)
    on_victim = subscribers[[r.name for r in cluster.replicas].index(victim.name)]
    assert len(on_victim.streams) > 1 and on_victim.streams[1] != victim.address  # it resumed on a survivor
    # Every subscriber saw the same sequence, whichever replicas served it.
    assert len({tuple((u.sequence, u.order_id, u.status) for u in s.updates) for s in subscribers}) == 1

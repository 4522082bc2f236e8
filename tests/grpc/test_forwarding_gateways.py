"""Forwarding on the whole stack: two gateways, each with its own runtime and store, against the Kite
simulator, each account owned by one of them. A call made on the replica that does not own the
account is served by its owner: the order is placed once, by the owner, as the caller; the owner's
kill switch refuses, with its own details; a bulk order is split by owner; order updates can be
relayed from the owner; a consolidated read goes where its accounts are."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import order_pb2, order_pb2_grpc, portfolio_pb2, portfolio_pb2_grpc

from kite_gateway.app import App
from kite_gateway.grpc.forwarding import Forwarding
from kite_gateway.grpc.forwarding_routes import LOCAL_METHODS
from kite_gateway.grpc.server import Gateway
from kite_gateway.grpc.status import STATUS_DETAILS_KEY
from kite_gateway.paper import log_in_demo_accounts
from kite_gateway.storage.idempotency import kite_tag
from kite_gateway.storage.sealing import Sealer
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import make_settings, market_buy, status_of
from tests.grpc.forwarding_cluster import PRINCIPALS, SECRET, Cluster, bearer, served, served_of
from tests.simulator.conftest import regular_hours

# Two in-process gateways standing for replicas, each alone on a database of its own (the
# suite's PostgreSQL run would give both one database; tests/cluster runs real clustered replicas).
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def sealing_key() -> bytes:
    return Sealer.generate_key()


@pytest.fixture
async def sim() -> AsyncIterator[ThreadedSimulator]:
    simulator = ThreadedSimulator(regular_hours(tick_interval=0.05))
    await simulator.start()
    yield simulator
    await simulator.stop()


@dataclass
class Replica:
    name: str
    runtime: App
    gateway: Gateway
    forwarding: Forwarding
    channel: grpc.aio.Channel

    @property
    def orders(self) -> order_pb2_grpc.OrderServiceStub:
        return order_pb2_grpc.OrderServiceStub(self.channel)

    @property
    def portfolio(self) -> portfolio_pb2_grpc.PortfolioServiceStub:
        return portfolio_pb2_grpc.PortfolioServiceStub(self.channel)

    async def stop(self) -> None:
        await self.gateway.stop(0)
        await self.forwarding.close()
        await self.channel.close()
        await self.runtime.close()


async def start_replica(
    tmp_path: Path,
    sim: ThreadedSimulator,
    key: bytes,
    cluster: Cluster,
    name: str,
    local_methods: Iterable[str] = LOCAL_METHODS,
) -> Replica:
    settings = make_settings(tmp_path / name, sim, key, gateway_auth_principals=PRINCIPALS)
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    runtime = await App.open(settings, now=sim.clock.now)
    forwarding = Forwarding(cluster.lookup(name), SECRET, replica_id=name, local_methods=local_methods)
    gateway = Gateway(settings, runtime.servicers(), forwarding=forwarding)
    await gateway.start()
    cluster.address_of[name] = address = f"127.0.0.1:{gateway.port}"
    await log_in_demo_accounts(sim, runtime.accounts)
    return Replica(name, runtime, gateway, forwarding, grpc.aio.insecure_channel(address))


@pytest.fixture
def cluster() -> Cluster:
    return Cluster(owner_of={"ZS0001": "a", "ZS0002": "b"})


@pytest.fixture
async def pair(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, cluster: Cluster
) -> AsyncIterator[tuple[Replica, Replica]]:
    a = await start_replica(tmp_path, sim, sealing_key, cluster, "a")
    b = await start_replica(tmp_path, sim, sealing_key, cluster, "b")
    yield a, b
    await b.stop()
    await a.stop()


def place(client_order_id: str, account_id: str = "ZS0001") -> order_pb2.PlaceOrderRequest:
    return order_pb2.PlaceOrderRequest(account_id=account_id, client_order_id=client_order_id, params=market_buy())


def at_kite(sim: ThreadedSimulator, account_id: str, client_order_id: str) -> list[dict[str, Any]]:
    return [o for o in sim.orders(account_id) if o["tag"] == kite_tag(account_id, client_order_id)]


async def test_an_order_placed_on_the_replica_that_does_not_own_the_account_is_placed_once_by_its_owner(
    pair: tuple[Replica, Replica], sim: ThreadedSimulator
) -> None:
    a, b = pair
    call = b.orders.PlaceOrder(place("fwd-1"), metadata=bearer("trader"))
    first = await call
    assert await served_of(call) == ("a", "b")
    assert [o["order_id"] for o in at_kite(sim, "ZS0001", "fwd-1")] == [first.order_id]

    again = await b.orders.PlaceOrder(place("fwd-1"), metadata=bearer("trader"))
    on_the_owner = await a.orders.PlaceOrder(place("fwd-1"), metadata=bearer("trader"))
    assert (again.order_id, again.replayed) == (on_the_owner.order_id, on_the_owner.replayed) == (first.order_id, True)
    assert len(at_kite(sim, "ZS0001", "fwd-1")) == 1

    audit_call = b.orders.ListAuditEvents(
        order_pb2.ListAuditEventsRequest(account_id="ZS0001"), metadata=bearer("reader")
    )
    audit = await audit_call
    assert await served_of(audit_call) == ("a", "b")
    placed = [e for e in audit.events if e.client_order_id == "fwd-1" and e.order_id == first.order_id]
    assert placed and {e.principal for e in placed} == {"trader"}


async def test_the_owner_refuses_a_forwarded_order_with_its_own_permission_and_kill_switch_details(
    pair: tuple[Replica, Replica], sim: ThreadedSimulator
) -> None:
    a, b = pair
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await b.orders.PlaceOrder(place("fwd-denied"), metadata=bearer("reader"))
    assert status_of(denied.value)[:2] == (grpc.StatusCode.PERMISSION_DENIED, "ACCOUNT_ACCESS_DENIED")
    assert served(denied.value.initial_metadata()) == ("a", "b")

    engage = order_pb2.SetKillSwitchRequest(account_id="ZS0001", engaged=True, reason="forwarding test")
    set_call = b.orders.SetKillSwitch(engage, metadata=bearer("trader"))
    await set_call
    assert await served_of(set_call) == ("a", "b")
    on_the_owner = await a.orders.GetKillSwitch(
        order_pb2.GetKillSwitchRequest(account_id="ZS0001"), metadata=bearer("reader")
    )
    assert on_the_owner.account.engaged

    refusals = []
    for replica in (b, a):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await replica.orders.PlaceOrder(place("fwd-killed"), metadata=bearer("trader"))
        refusals.append(caught.value)
    forwarded, direct = refusals
    assert status_of(forwarded)[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "KILL_SWITCH_ACTIVE")
    assert forwarded.details() == direct.details()
    details = dict(forwarded.trailing_metadata())[STATUS_DETAILS_KEY]
    assert details == dict(direct.trailing_metadata())[STATUS_DETAILS_KEY]
    assert at_kite(sim, "ZS0001", "fwd-denied") == at_kite(sim, "ZS0001", "fwd-killed") == []


def leg(account_id: str, client_order_id: str) -> order_pb2.BulkOrderLeg:
    return order_pb2.BulkOrderLeg(account_id=account_id, client_order_id=client_order_id, params=market_buy())


async def test_a_bulk_order_across_owners_runs_each_leg_on_its_owner_and_answers_in_request_order(
    pair: tuple[Replica, Replica], sim: ThreadedSimulator, cluster: Cluster
) -> None:
    _, b = pair
    request = order_pb2.PlaceBulkOrdersRequest(legs=[leg("ZS0002", "bulk-1"), leg("ZS0001", "bulk-1")])
    call = b.orders.PlaceBulkOrders(request, metadata=bearer("trader"))
    reply = await call
    assert [(r.account_id, r.WhichOneof("outcome")) for r in reply.results] == [
        ("ZS0002", "placed"),
        ("ZS0001", "placed"),
    ]
    assert await served_of(call) == ("a,b", "b")
    for result in reply.results:
        assert [o["order_id"] for o in at_kite(sim, result.account_id, "bulk-1")] == [result.placed.order_id]

    cluster.owner_of["ZS0002"] = None  # moving
    request = order_pb2.PlaceBulkOrdersRequest(legs=[leg("ZS0002", "bulk-2"), leg("ZS0001", "bulk-2")])
    moving, placed = (await b.orders.PlaceBulkOrders(request, metadata=bearer("trader"))).results
    assert (moving.account_id, moving.client_order_id) == ("ZS0002", "bulk-2")
    assert moving.failure.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert moving.failure.retry_info.retry_delay.seconds == 1
    assert "ZS0002" in moving.failure.message
    assert placed.WhichOneof("outcome") == "placed"
    assert at_kite(sim, "ZS0002", "bulk-2") == []


async def test_a_bulk_order_naming_an_account_its_caller_may_not_trade_is_denied_whole_before_any_leg_runs(
    pair: tuple[Replica, Replica], sim: ThreadedSimulator
) -> None:
    _, b = pair
    request = order_pb2.PlaceBulkOrdersRequest(legs=[leg("ZS0002", "bulk-3"), leg("ZS0001", "bulk-3")])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await b.orders.PlaceBulkOrders(request, metadata=bearer("reader"))
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert at_kite(sim, "ZS0001", "bulk-3") == at_kite(sim, "ZS0002", "bulk-3") == []


async def test_an_owner_bound_order_update_stream_is_relayed_from_the_owner(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, cluster: Cluster
) -> None:
    a = await start_replica(tmp_path, sim, sealing_key, cluster, "a", local_methods=frozenset())
    b = await start_replica(tmp_path, sim, sealing_key, cluster, "b", local_methods=frozenset())
    try:
        request = order_pb2.StreamOrderUpdatesRequest(account_id="ZS0001", heartbeat_interval=Duration(seconds=1))
        stream = b.orders.StreamOrderUpdates(request, metadata=bearer("reader"))
        assert await served_of(stream) == ("a", "b")
        placed = await b.orders.PlaceOrder(place("fwd-stream"), metadata=bearer("trader"))
        async with asyncio.timeout(15):
            while True:
                event = await stream.read()
                if event.WhichOneof("event") == "update" and event.update.order.order_id == placed.order_id:
                    break
        assert event.update.sequence >= 1
        stream.cancel()
    finally:
        await b.stop()
        await a.stop()


async def test_a_consolidated_read_goes_to_the_one_replica_owning_its_accounts_and_runs_here_otherwise(
    pair: tuple[Replica, Replica],
) -> None:
    _, b = pair
    one = b.portfolio.GetConsolidatedPortfolio(
        portfolio_pb2.GetConsolidatedPortfolioRequest(account_ids=["ZS0001"]), metadata=bearer("reader")
    )
    assert [entry.account_id for entry in (await one).accounts] == ["ZS0001"]
    assert await served_of(one) == ("a", "b")
    both = b.portfolio.GetConsolidatedPortfolio(
        portfolio_pb2.GetConsolidatedPortfolioRequest(account_ids=["ZS0001", "ZS0002"]), metadata=bearer("reader")
    )
    assert [entry.account_id for entry in (await both).accounts] == ["ZS0001", "ZS0002"]
    assert await served_of(both) == ("b", None)

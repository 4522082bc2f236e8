"""The clustered mode as an adversary sees it: two whole replicas in one process over one real
PostgreSQL database and the Kite simulator (tests/cluster/stack.py), the lease rounds driven by the
test, faults injected where a real cluster meets them (a pause between the write-ahead record and
the call to Kite, a lease that moved, a kill switch engaged elsewhere, a forged forwarding header)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kite_gateway_api.v1 import order_pb2

from kite_gateway.storage.idempotency import kite_tag
from kite_gateway.storage.sealing import Sealer
from kite_simulator import ThreadedSimulator
from tests.cluster.stack import Replica, start_replica
from tests.e2e.conftest import market_buy
from tests.simulator.conftest import regular_hours


@pytest.fixture
def sealing_key() -> bytes:
    return Sealer.generate_key()


@pytest.fixture
async def sim() -> AsyncIterator[ThreadedSimulator]:
    simulator = ThreadedSimulator(regular_hours(tick_interval=0.05))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def pair(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes, postgres_url: str
) -> AsyncIterator[tuple[Replica, Replica]]:
    """Replica a owns every account (it took the lease first), b owns none."""
    from kite_gateway.paper import log_in_demo_accounts

    a = await start_replica(tmp_path, sim, sealing_key, postgres_url, "a", gateway_order_quarantine=1.0)
    b = await start_replica(tmp_path, sim, sealing_key, postgres_url, "b", gateway_order_quarantine=1.0)
    try:
        await log_in_demo_accounts(sim, a.runtime.accounts)
        await a.round()
        await b.round()
        assert a.held() and not b.held()
        yield a, b
    finally:
        await b.stop()
        await a.stop()


def place(client_order_id: str, account_id: str = "ZS0001") -> order_pb2.PlaceOrderRequest:
    return order_pb2.PlaceOrderRequest(account_id=account_id, client_order_id=client_order_id, params=market_buy())


def at_kite(sim: ThreadedSimulator, client_order_id: str, account_id: str = "ZS0001") -> list[str]:
    return [o["order_id"] for o in sim.orders(account_id) if o["tag"] == kite_tag(account_id, client_order_id)]


async def test_an_order_placed_on_the_replica_without_the_lease_is_placed_once_by_the_owner(
    pair: tuple[Replica, Replica], sim: ThreadedSimulator
) -> None:
    a, b = pair
    reply = await b.orders.PlaceOrder(place("smoke-1"))
    assert at_kite(sim, "smoke-1") == [reply.order_id]

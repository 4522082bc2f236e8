"""Egress per account group through the whole stack: two account groups mapped to two loopback
source addresses (127.0.0.2 and 127.0.0.3 reach the loopback interface on Linux) reach the
simulator as two peers; an account mapped to an egress its developer account did not whitelist is
refused with IP_NOT_REGISTERED and what to do, while its reads still work from any address; the
accounts per egress are in the metrics; and a map naming an address this host lacks stops the start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from kite_gateway_api.v1 import account_pb2, order_pb2, portfolio_pb2
from prometheus_client import CollectorRegistry, generate_latest

from kite_gateway.app import App
from kite_gateway.kite import EgressConfigError
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, make_settings, market_buy, start_stack, status_of, stop_stack
from tests.simulator.conftest import regular_hours

EGRESS_MAP = """
[egress.family-a]
source_address = "127.0.0.2"
accounts = ["ZS0001"]

[egress.family-b]
source_address = "127.0.0.3"
accounts = ["ZS0002"]
"""


async def whitelisting(*addresses: str) -> ThreadedSimulator:
    simulator = ThreadedSimulator(regular_hours(tick_interval=0.05, ip_whitelist={"sim_api_key": frozenset(addresses)}))
    await simulator.start()
    return simulator


@pytest.fixture
def egress_file(tmp_path: Path) -> Path:
    path = tmp_path / "egress.toml"
    path.write_text(EGRESS_MAP)
    return path


@pytest.fixture
async def both_registered(tmp_path: Path, sealing_key: bytes, egress_file: Path) -> AsyncIterator[Stack]:
    simulator = await whitelisting("127.0.0.2", "127.0.0.3")  # the developer account's primary and secondary IP
    running = await start_stack(tmp_path, simulator, sealing_key, gateway_egress_file=egress_file)
    yield running
    await stop_stack(running)
    await simulator.stop()


@pytest.fixture
async def one_registered(tmp_path: Path, sealing_key: bytes, egress_file: Path) -> AsyncIterator[Stack]:
    simulator = await whitelisting("127.0.0.2")
    running = await start_stack(tmp_path, simulator, sealing_key, gateway_egress_file=egress_file)
    yield running
    await stop_stack(running)
    await simulator.stop()


def place(stack: Stack, account: str, client_order_id: str) -> order_pb2.PlaceOrderRequest:
    return order_pb2.PlaceOrderRequest(account_id=account, client_order_id=client_order_id, params=market_buy())


async def test_two_account_groups_reach_kite_from_their_own_egress(both_registered: Stack) -> None:
    stack = both_registered
    await stack.orders.PlaceOrder(place(stack, "ZS0001", "egress-a-1"))
    await stack.orders.PlaceOrder(place(stack, "ZS0002", "egress-b-1"))
    peers = stack.sim.on_loop(lambda s: list(s.request_rules.order_peers))
    assert peers == [("ZS0001", "127.0.0.2"), ("ZS0002", "127.0.0.3")]
    assert len(stack.kite_orders("ZS0001")) == 1 and len(stack.kite_orders("ZS0002")) == 1


async def test_a_misrouted_account_is_refused_for_its_ip_and_told_what_to_do(one_registered: Stack) -> None:
    stack = one_registered
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.orders.PlaceOrder(place(stack, "ZS0002", "misrouted-1"))
    code, reason, metadata, _ = status_of(refused.value)
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "IP_NOT_REGISTERED")
    assert metadata["refused_ip"] == "127.0.0.3" and 'egress "family-b"' in metadata["egress"]
    details = refused.value.details() or ""
    assert "IP Whitelist" in details and "KITE_GATEWAY_EGRESS_FILE" in details
    assert stack.kite_orders("ZS0002") == []
    # the account's reads leave from the default route and are served from any address
    positions = await stack.portfolio.GetPositions(portfolio_pb2.GetPositionsRequest(account_id="ZS0002"))
    assert positions is not None
    listed = await stack.orders.ListOrders(order_pb2.ListOrdersRequest(account_id="ZS0002"))
    assert list(listed.orders) == []
    # the other group's egress is whitelisted: its orders go through
    await stack.orders.PlaceOrder(place(stack, "ZS0001", "registered-1"))
    assert len(stack.kite_orders("ZS0001")) == 1


async def test_the_accounts_per_egress_are_in_the_metrics(both_registered: Stack) -> None:
    registry = CollectorRegistry()
    registry.register(both_registered.runtime.state_collector())
    text = generate_latest(registry).decode()
    assert 'kite_gateway_egress_accounts{egress="family-a",ip="127.0.0.2"} 1.0' in text
    assert 'kite_gateway_egress_accounts{egress="family-b",ip="127.0.0.3"} 1.0' in text
    assert 'kite_gateway_egress_accounts{egress="default",ip="the host\'s default route"} 0.0' in text
    assert "kite_gateway_egress_family_size 4.0" in text
    assert 'kite_gateway_egress_shared_beyond_family{ip="127.0.0.2"} 0.0' in text


async def test_each_account_says_which_egress_its_orders_use_and_who_shares_its_ip(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    shared = tmp_path / "shared.toml"
    shared.write_text('[egress.home]\nsource_address = "127.0.0.2"\naccounts = ["ZS0001", "ZS0002"]\n')
    stack = await start_stack(tmp_path, sim, sealing_key, gateway_egress_file=shared, gateway_egress_family_size=1)
    try:
        listed = await stack.accounts.ListAccounts(account_pb2.ListAccountsRequest())
        for account in listed.accounts:
            egress = account.egress
            assert (egress.name, egress.shared_ip) == (
                "home",
                "127.0.0.2",
            ) and "source address 127.0.0.2" in egress.route
            assert list(egress.accounts_sharing) == ["ZS0001", "ZS0002"] and egress.beyond_family_size
    finally:
        await stop_stack(stack)


async def test_a_map_naming_an_address_this_host_lacks_stops_the_start(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    path = tmp_path / "egress.toml"
    path.write_text('[egress.family-c]\nsource_address = "192.0.2.10"\naccounts = ["ZS0001"]\n')
    settings = make_settings(tmp_path, sim, sealing_key, gateway_egress_file=path)
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    with pytest.raises(EgressConfigError, match='egress group "family-c"'):
        await App.open(settings, now=sim.clock.now)

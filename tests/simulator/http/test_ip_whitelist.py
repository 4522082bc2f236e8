"""The simulator's IP whitelist per api_key, as Kite's per developer account: order calls (place,
modify, cancel) from a peer address not whitelisted are refused with Kite's error before anything
is placed, reads are served from any address, and an api_key with no whitelist is not checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_exceptions
from requests.adapters import HTTPAdapter

from kite_simulator import ThreadedSimulator
from kite_wire import ip_not_allowed
from tests.simulator.conftest import login, place, regular_hours


class FromAddress(HTTPAdapter):
    """Connects from a loopback source address (127.0.0.x all reach the loopback interface)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: object) -> None:
        super().init_poolmanager(connections, maxsize, block, source_address=(self.address, 0), **kwargs)


def resting(running: ThreadedSimulator) -> float:
    """A limit buy price below INFY's last price, so the order rests OPEN."""
    sim = running.sim
    return float(running.call(lambda: sim.engine.quote(sim.universe.by_symbol["NSE:INFY"]).last_price) - 40)


def from_address(kite: KiteConnect, address: str) -> KiteConnect:
    kite.reqsession.mount("http://", FromAddress(address))
    return kite


@pytest.fixture
def whitelisted() -> Iterator[ThreadedSimulator]:
    with ThreadedSimulator(regular_hours(ip_whitelist={"sim_api_key": frozenset({"127.0.0.2"})})) as running:
        yield running


def test_an_order_from_an_address_not_whitelisted_is_refused_with_kites_error(whitelisted: ThreadedSimulator) -> None:
    kite = from_address(login(whitelisted), "127.0.0.3")
    with pytest.raises(kite_exceptions.PermissionException) as refused:
        place(kite)
    assert str(refused.value) == ip_not_allowed("127.0.0.3") and refused.value.code == 403
    assert whitelisted.orders("ZS0001") == []  # nothing was placed
    assert kite.orders() == [] and kite.positions() is not None  # reads are open from any address


def test_an_order_from_the_whitelisted_address_is_placed_modified_and_cancelled(
    whitelisted: ThreadedSimulator,
) -> None:
    kite = from_address(login(whitelisted), "127.0.0.2")
    price = resting(whitelisted)
    order_id = place(kite, order_type="LIMIT", price=price, product="MIS")
    kite.modify_order(variety="regular", order_id=order_id, price=price - 1)
    kite.cancel_order(variety="regular", order_id=order_id)
    peers = whitelisted.on_loop(lambda s: list(s.request_rules.order_peers))
    assert peers == [("ZS0001", "127.0.0.2")] * 3


def test_modify_and_cancel_from_another_address_are_refused_too(whitelisted: ThreadedSimulator) -> None:
    kite = from_address(login(whitelisted), "127.0.0.2")
    price = resting(whitelisted)
    order_id = place(kite, order_type="LIMIT", price=price, product="MIS")
    elsewhere = from_address(login(whitelisted), "127.0.0.4")
    with pytest.raises(kite_exceptions.PermissionException):
        elsewhere.modify_order(variety="regular", order_id=order_id, price=price - 1)
    with pytest.raises(kite_exceptions.PermissionException):
        elsewhere.cancel_order(variety="regular", order_id=order_id)
    assert [o["status"] for o in whitelisted.orders("ZS0001")] == ["OPEN"]


def test_an_app_without_a_whitelist_takes_orders_from_any_address(threaded: ThreadedSimulator) -> None:
    assert place(from_address(login(threaded), "127.0.0.5"))

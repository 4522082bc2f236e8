"""Kill-switch actions as units: engaging a switch with cancel_open_orders cancels what is still
open on every account it covers (never a final order, never an order's own later leg), and reports
each cancellation, failed ones with Kite's reason."""

from __future__ import annotations

import pytest

from kite_gateway.core.orders.kill_switch_actions import KillSwitchActions, cancel_open_orders
from kite_gateway.core.orders.requests import Cancellation
from kite_gateway.core.risk.kill_switch import GATEWAY, KillSwitches
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.orders import KiteOrders, OrderRow
from tests.core.orders.fakes import FakeDatabase, FakeOrders


def order(order_id: str, status: str, parent: str | None = None, variety: str = "regular") -> OrderRow:
    return OrderRow(order_id=order_id, status=status, parent_order_id=parent, variety=variety)


BOOK = [
    order("1", "COMPLETE"),
    order("2", "OPEN"),
    order("3", "CANCELLED"),
    order("4", "TRIGGER PENDING", variety="co"),
    order("5", "OPEN", parent="4"),  # the cover order's own leg: cancelled with it
    order("6", "REJECTED"),
]


async def test_cancelling_open_orders_leaves_final_orders_and_child_legs_alone() -> None:
    kite = FakeOrders("AB1234", BOOK)
    results = await cancel_open_orders(kite.typed())
    assert kite.cancelled == [("regular", "2"), ("co", "4")]
    assert results == [Cancellation("AB1234", "2", True), Cancellation("AB1234", "4", True)]


async def test_a_cancellation_kite_refuses_is_reported_and_the_others_still_go() -> None:
    refusal = GatewayError(Status.FAILED_PRECONDITION, Reason.KITE_ORDER_REJECTED, "Kite: order is being modified")
    kite = FakeOrders("AB1234", BOOK, refuse={"2": refusal})
    results = await cancel_open_orders(kite.typed())
    assert results == [
        Cancellation("AB1234", "2", False, "Kite: order is being modified"),
        Cancellation("AB1234", "4", True),
    ]


def actions(accounts: dict[str, FakeOrders]) -> tuple[KillSwitchActions, KillSwitches]:
    switches = KillSwitches(FakeDatabase().typed())

    def orders_of(account_id: str) -> KiteOrders:
        return accounts[account_id].typed()

    return KillSwitchActions(switches, lambda: list(accounts), orders_of), switches


async def test_engaging_the_gateway_switch_with_cancellation_cancels_on_every_account() -> None:
    accounts = {"AB1234": FakeOrders("AB1234", [order("1", "OPEN")]), "CD5678": FakeOrders("CD5678", BOOK)}
    target, switches = actions(accounts)
    state, cancellations = await target.set(GATEWAY, True, "runaway strategy", "ops", cancel_open=True)
    assert state.engaged and state.principal == "ops" and switches.state(GATEWAY).engaged
    assert [(c.account_id, c.order_id) for c in cancellations] == [("AB1234", "1"), ("CD5678", "2"), ("CD5678", "4")]


async def test_an_account_switch_cancels_on_that_account_only_and_only_when_asked() -> None:
    accounts = {"AB1234": FakeOrders("AB1234", [order("1", "OPEN")]), "CD5678": FakeOrders("CD5678", BOOK)}
    target, _switches = actions(accounts)
    _state, none = await target.set("CD5678", True, "checking", "ops", cancel_open=False)
    assert none == [] and accounts["CD5678"].cancelled == []
    _state, cancellations = await target.set("CD5678", True, "checking", "ops", cancel_open=True)
    assert {c.account_id for c in cancellations} == {"CD5678"} and accounts["AB1234"].cancelled == []


async def test_releasing_a_switch_cancels_nothing_and_states_show_both_switches() -> None:
    accounts = {"AB1234": FakeOrders("AB1234", [order("1", "OPEN")])}
    target, _switches = actions(accounts)
    await target.set(GATEWAY, True, "halt", "ops", cancel_open=False)
    _state, cancellations = await target.set("AB1234", False, "", "ops", cancel_open=True)
    assert cancellations == [] and accounts["AB1234"].cancelled == []
    account, gateway = target.states("AB1234")
    assert (account.account_id, account.engaged) == ("AB1234", False)
    assert (gateway.account_id, gateway.engaged, gateway.reason) == (GATEWAY, True, "halt")


def test_an_engaged_switch_needs_a_reason_a_released_one_does_not() -> None:
    KillSwitchActions.check_reason(False, "")
    KillSwitchActions.check_reason(True, "why")
    with pytest.raises(GatewayError) as caught:
        KillSwitchActions.check_reason(True, "  ")
    assert caught.value.field_violations[0][0] == "reason"

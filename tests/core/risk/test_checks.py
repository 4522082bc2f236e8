"""Pre-trade risk as a unit: the kill switches come first, a modification is held to the order-size
limits as it would leave the order, and Kite is asked for prices and positions only when a limit
needs them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kite_gateway.core.risk.checks import OrderIntent, Positions, PreTradeRisk
from kite_gateway.core.risk.kill_switch import GATEWAY, KillSwitches
from kite_gateway.core.risk.limits import RiskBook, RiskLimits
from kite_gateway.errors import GatewayError, Reason
from tests.core.orders.fakes import FakeDatabase

INTENT = OrderIntent("AB1234", "NSE", "INFY", "EQ", "CNC", True, 10)


def risk(limits: RiskLimits) -> tuple[PreTradeRisk, KillSwitches]:
    switches = KillSwitches(FakeDatabase().typed())
    return PreTradeRisk(RiskBook(limits), switches, clock=lambda: 0.0), switches


async def nothing_asked() -> Decimal:
    raise AssertionError("no limit needs the price")


async def no_positions() -> Positions:
    raise AssertionError("no limit needs the positions")


async def test_without_limits_an_order_is_admitted_without_asking_kite_anything() -> None:
    target, _ = risk(RiskLimits())
    await target.admit(INTENT, nothing_asked, no_positions)


async def test_an_engaged_gateway_switch_refuses_before_any_limit() -> None:
    target, switches = risk(RiskLimits(max_order_quantity=1))
    await switches.set(GATEWAY, True, "halt", "ops")
    with pytest.raises(GatewayError) as caught:
        await target.admit(INTENT, nothing_asked, no_positions)
    assert caught.value.reason == Reason.KILL_SWITCH_ACTIVE and caught.value.metadata["kill_switch"] == "gateway"


async def test_the_order_value_limit_prices_the_order_and_names_both_values() -> None:
    target, _ = risk(RiskLimits(max_order_value=Decimal(1000)))

    async def price() -> Decimal:
        return Decimal("100.01")

    with pytest.raises(GatewayError) as caught:
        await target.admit(INTENT, price, no_positions)
    assert caught.value.reason == Reason.RISK_LIMIT_BREACHED
    assert (caught.value.metadata["limit"], caught.value.metadata["order_value"]) == ("max_order_value", "1000.10")


def test_a_modification_is_held_to_the_size_limits_as_it_would_leave_the_order() -> None:
    target, _ = risk(RiskLimits(max_order_quantity=100, max_order_value=Decimal(10000)))
    target.check_modification("AB1234", 100, Decimal(100))
    for quantity, price, limit in (
        (101, Decimal(1), "max_order_quantity"),
        (100, Decimal("100.05"), "max_order_value"),
    ):
        with pytest.raises(GatewayError) as caught:
            target.check_modification("AB1234", quantity, price)
        assert caught.value.metadata["limit"] == limit and "would be" in caught.value.message

"""Risk-refusal events: a breached limit and an engaged kill switch are each one event with the
refusal's message; a Kite call failing while a limit is checked is not a refusal; an alert center
that raises never replaces the refusal the caller gets."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from kite_gateway.alert_feeds import RefusalAlerts
from kite_gateway.core.alerts import RiskRefusalEvent
from kite_gateway.core.risk import GATEWAY, KillSwitches, OrderIntent, Positions, PreTradeRisk, RiskBook
from kite_gateway.core.risk.limits import RiskLimits
from kite_gateway.errors import GatewayError, Reason, Status
from tests.alert_feeds.fakes import NOW, Broken, Recorder, clock
from tests.core.orders.fakes import FakeDatabase

INTENT = OrderIntent("ZS0001", "NSE", "INFY", "EQ", "CNC", True, 10)


def wired(limits: RiskLimits, emit: Recorder | Broken) -> tuple[PreTradeRisk, KillSwitches]:
    switches = KillSwitches(FakeDatabase().typed())
    risk = PreTradeRisk(RiskBook(limits), switches, clock=lambda: 0.0)
    alerts = RefusalAlerts(emit, clock)
    risk.refusal_listeners.append(alerts.refused)
    switches.refusal_listeners.append(alerts.refused)
    return risk, switches


async def price() -> Decimal:
    return Decimal(100)


async def no_positions() -> Positions:
    return {}


async def test_a_breached_limit_is_one_refusal_event_with_the_refusals_message() -> None:
    recorder = Recorder()
    risk, _ = wired(RiskLimits(max_order_quantity=5), recorder)
    with pytest.raises(GatewayError) as caught:
        await risk.admit(INTENT, price, no_positions)
    with pytest.raises(GatewayError) as modified:
        risk.check_modification("ZS0001", 6, Decimal(1))
    assert recorder.events == [
        RiskRefusalEvent("ZS0001", caught.value.message, NOW),
        RiskRefusalEvent("ZS0001", modified.value.message, NOW),
    ]
    assert "max_order_quantity" in caught.value.message


async def test_an_engaged_kill_switch_is_one_refusal_event_not_two() -> None:
    recorder = Recorder()
    risk, switches = wired(RiskLimits(max_order_quantity=5), recorder)
    await switches.set(GATEWAY, True, "runaway algo", "ops")
    with pytest.raises(GatewayError) as caught:
        await risk.admit(INTENT, price, no_positions)  # refused by the switch before any limit
    with pytest.raises(GatewayError):
        switches.check("ZS0002")  # a GTT or an order at its sending
    assert caught.value.reason is Reason.KILL_SWITCH_ACTIVE
    assert [(e.account_id, "runaway algo" in e.reason) for e in recorder.events] == [  # type: ignore[union-attr]
        ("ZS0001", True),
        ("ZS0002", True),
    ]


async def test_a_kite_failure_while_checking_a_limit_is_not_a_refusal() -> None:
    recorder = Recorder()
    risk, _ = wired(RiskLimits(max_order_value=Decimal(1000)), recorder)

    async def unreachable() -> Decimal:
        raise GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, "Kite did not answer")

    with pytest.raises(GatewayError) as caught:
        await risk.admit(INTENT, unreachable, no_positions)
    assert caught.value.reason is Reason.KITE_UNAVAILABLE and recorder.events == []


async def test_an_alert_center_that_raises_leaves_the_caller_its_refusal() -> None:
    broken = Broken()
    risk, switches = wired(RiskLimits(max_order_quantity=5), broken)
    with pytest.raises(GatewayError) as caught:
        await risk.admit(INTENT, price, no_positions)
    assert caught.value.reason is Reason.RISK_LIMIT_BREACHED
    await switches.set("ZS0001", True, "halt", "ops")
    with pytest.raises(GatewayError) as again:
        switches.check("ZS0001")
    assert again.value.reason is Reason.KILL_SWITCH_ACTIVE and broken.calls == 2


async def test_a_listener_that_raises_never_replaces_the_refusal() -> None:
    switches = KillSwitches(FakeDatabase().typed())
    risk = PreTradeRisk(RiskBook(RiskLimits(max_order_quantity=5)), switches)

    def failing(account_id: str, reason: str) -> None:
        raise RuntimeError("listener bug")

    risk.refusal_listeners.append(failing)
    switches.refusal_listeners.append(failing)
    with pytest.raises(GatewayError) as caught:
        await risk.admit(INTENT, price, no_positions)
    assert caught.value.reason is Reason.RISK_LIMIT_BREACHED
    await switches.set(GATEWAY, True, "halt", "ops")
    with pytest.raises(GatewayError) as again:
        switches.check("ZS0001")
    assert again.value.reason is Reason.KILL_SWITCH_ACTIVE


async def test_a_refusal_in_kites_worker_thread_is_emitted_on_the_event_loop() -> None:
    recorder = Recorder()
    _, switches = wired(RiskLimits(), recorder)
    await switches.set(GATEWAY, True, "halt", "ops")

    def last_check() -> None:  # as kite_gateway.kite's LAST_CHECK runs it, beside the Kite call
        with pytest.raises(GatewayError):
            switches.check("ZS0001")

    await asyncio.to_thread(last_check)
    await asyncio.sleep(0)
    assert [e.account_id for e in recorder.events] == ["ZS0001"]  # type: ignore[union-attr]

"""Kite's own alerts through the paper gateway: a simple alert created, listed, read, modified so
its condition holds, triggered by the simulator's next matching pass and seen in its history; an
ATO alert whose trigger places its basket's orders at Kite; deletion; and bad input answered with
NOT_FOUND or INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.grpc.mapping import decimal_pb
from tests.e2e.conftest import Stack, status_of

ACCOUNT = "ZS0001"
UNKNOWN = "00000000-0000-0000-0000-000000000000"


def infy(stack: Stack) -> Decimal:
    return stack.sim.quote("NSE:INFY").last_price


def condition(operator: int, constant: Decimal, **fields: object) -> order_pb2.KiteAlertParams:
    return order_pb2.KiteAlertParams(
        name="infy watch",
        type=order_pb2.KITE_ALERT_TYPE_SIMPLE,
        instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"),
        attribute=order_pb2.KITE_ALERT_ATTRIBUTE_LAST_PRICE,
        operator=operator,  # type: ignore[arg-type]
        constant=decimal_pb(constant),
        **fields,  # type: ignore[arg-type]
    )


async def test_a_simple_alert_is_listed_modified_triggered_and_deleted(stack: Stack) -> None:
    far = infy(stack) * 3
    made = await stack.orders.CreateKiteAlert(
        order_pb2.CreateKiteAlertRequest(
            account_id=ACCOUNT, params=condition(order_pb2.KITE_ALERT_OPERATOR_GREATER_EQUAL, far)
        )
    )
    alert_id = made.alert.alert_id
    assert made.alert.status == order_pb2.KITE_ALERT_STATUS_ENABLED and Decimal(made.alert.params.constant.value) == far
    listed = await stack.orders.ListKiteAlerts(order_pb2.ListKiteAlertsRequest(account_id=ACCOUNT))
    assert [a.alert_id for a in listed.alerts] == [alert_id]
    stack.sim.advance(120)  # INFY is nowhere near three times its price: nothing triggers
    history = await stack.orders.GetKiteAlertHistory(
        order_pb2.GetKiteAlertHistoryRequest(account_id=ACCOUNT, alert_id=alert_id)
    )
    assert list(history.triggers) == []

    holds = condition(order_pb2.KITE_ALERT_OPERATOR_LESS_EQUAL, far)
    await stack.orders.ModifyKiteAlert(
        order_pb2.ModifyKiteAlertRequest(account_id=ACCOUNT, alert_id=alert_id, params=holds)
    )
    stack.sim.advance(120)  # the next matching pass sees INFY <= the constant
    got = await stack.orders.GetKiteAlert(order_pb2.GetKiteAlertRequest(account_id=ACCOUNT, alert_id=alert_id))
    assert got.alert.params.operator == order_pb2.KITE_ALERT_OPERATOR_LESS_EQUAL and got.alert.trigger_count == 1
    assert got.alert.status == order_pb2.KITE_ALERT_STATUS_DISABLED
    history = await stack.orders.GetKiteAlertHistory(
        order_pb2.GetKiteAlertHistoryRequest(account_id=ACCOUNT, alert_id=alert_id)
    )
    (trigger,) = history.triggers
    assert trigger.condition.startswith('LastTradedPrice("NSE:INFY") <= ')
    assert trigger.quotes[0].instrument.symbol == "NSE:INFY" and Decimal(trigger.quotes[0].last_price.value) <= far

    await stack.orders.DeleteKiteAlerts(order_pb2.DeleteKiteAlertsRequest(account_id=ACCOUNT, alert_ids=[alert_id]))
    deleted = await stack.orders.ListKiteAlerts(
        order_pb2.ListKiteAlertsRequest(account_id=ACCOUNT, status=order_pb2.KITE_ALERT_STATUS_DELETED)
    )
    assert [a.alert_id for a in deleted.alerts] == [alert_id]


async def test_an_ato_alert_places_its_basket_when_it_triggers(stack: Stack) -> None:
    before = {o["order_id"] for o in stack.kite_orders()}
    buy = order_pb2.KiteAlertOrder(
        instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"), transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
        quantity=2, product=common_pb2.PRODUCT_CNC, order_type=common_pb2.ORDER_TYPE_MARKET,
    )  # fmt: skip
    params = condition(order_pb2.KITE_ALERT_OPERATOR_GREATER, Decimal(0), basket=[buy])
    params.type = order_pb2.KITE_ALERT_TYPE_ATO
    made = await stack.orders.CreateKiteAlert(order_pb2.CreateKiteAlertRequest(account_id=ACCOUNT, params=params))
    assert made.alert.params.basket[0].quantity == 2
    stack.sim.advance(120)
    history = await stack.orders.GetKiteAlertHistory(
        order_pb2.GetKiteAlertHistoryRequest(account_id=ACCOUNT, alert_id=made.alert.alert_id)
    )
    (trigger,) = history.triggers
    (result,) = trigger.orders
    placed = [o for o in stack.kite_orders() if o["order_id"] not in before]
    assert result.status == "success" and [o["order_id"] for o in placed] == [result.order_id]
    assert (placed[0]["tradingsymbol"], placed[0]["quantity"], placed[0]["transaction_type"]) == ("INFY", 2, "BUY")


async def test_an_unknown_alert_is_not_found_for_get_modify_history_and_delete(stack: Stack) -> None:
    calls = [
        stack.orders.GetKiteAlert(order_pb2.GetKiteAlertRequest(account_id=ACCOUNT, alert_id=UNKNOWN)),
        stack.orders.GetKiteAlertHistory(order_pb2.GetKiteAlertHistoryRequest(account_id=ACCOUNT, alert_id=UNKNOWN)),
        stack.orders.ModifyKiteAlert(order_pb2.ModifyKiteAlertRequest(
            account_id=ACCOUNT, alert_id=UNKNOWN, params=condition(order_pb2.KITE_ALERT_OPERATOR_LESS, Decimal(1)))),
        stack.orders.DeleteKiteAlerts(order_pb2.DeleteKiteAlertsRequest(account_id=ACCOUNT, alert_ids=[UNKNOWN])),
    ]  # fmt: skip
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        code = status_of(caught.value)[0]
        assert code == grpc.StatusCode.NOT_FOUND and UNKNOWN in caught.value.details(), caught.value.details()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"operator": order_pb2.KITE_ALERT_OPERATOR_UNSPECIFIED}, "params.operator"),
        ({"instrument": common_pb2.InstrumentRef()}, "params.instrument"),
        ({"name": ""}, "params.name"),
        ({"type": order_pb2.KITE_ALERT_TYPE_ATO}, "params.basket"),
    ],
)
async def test_a_bad_alert_is_invalid_argument_naming_the_field(
    stack: Stack, change: dict[str, object], field: str
) -> None:
    params = condition(order_pb2.KITE_ALERT_OPERATOR_LESS, Decimal(1))
    for name, value in change.items():
        if isinstance(value, common_pb2.InstrumentRef):
            params.ClearField(name)  # type: ignore[arg-type]
        else:
            setattr(params, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.CreateKiteAlert(order_pb2.CreateKiteAlertRequest(account_id=ACCOUNT, params=params))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(field), caught.value.details()
    assert stack.sim.on_loop(lambda sim: list(sim.alerts.alerts)) == []  # nothing reached Kite


async def test_an_engaged_kill_switch_refuses_a_new_alert_and_kite_never_sees_it(stack: Stack) -> None:
    await stack.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, engaged=True, reason="test"))
    params = condition(order_pb2.KITE_ALERT_OPERATOR_LESS, Decimal(1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.CreateKiteAlert(order_pb2.CreateKiteAlertRequest(account_id=ACCOUNT, params=params))
    assert status_of(caught.value)[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "KILL_SWITCH_ACTIVE")
    assert stack.sim.on_loop(lambda sim: list(sim.alerts.alerts)) == []

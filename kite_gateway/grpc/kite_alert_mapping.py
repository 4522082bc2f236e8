"""Kite alerts between protos and the typed Kite adapter: KiteAlertParams checked and turned into
an AlertSpec (INVALID_ARGUMENT naming the field), and AlertRow/AlertHistoryRow as messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.core.market import InstrumentMaster
from kite_gateway.errors import invalid
from kite_gateway.grpc import mapping
from kite_gateway.kite import AlertHistoryRow, AlertRow, AlertSpec, BasketOrder
from kite_wire import ALERT_ATO, ALERT_SIMPLE, LAST_TRADED_PRICE, RHS_CONSTANT, RHS_INSTRUMENT

BASKET_ORDERS = 20  # the most a basket holds (Kite)
TYPES = {order_pb2.KITE_ALERT_TYPE_SIMPLE: ALERT_SIMPLE, order_pb2.KITE_ALERT_TYPE_ATO: ALERT_ATO}
OPERATORS = {
    order_pb2.KITE_ALERT_OPERATOR_LESS_EQUAL: "<=",
    order_pb2.KITE_ALERT_OPERATOR_GREATER_EQUAL: ">=",
    order_pb2.KITE_ALERT_OPERATOR_LESS: "<",
    order_pb2.KITE_ALERT_OPERATOR_GREATER: ">",
    order_pb2.KITE_ALERT_OPERATOR_EQUAL: "==",
}
ATTRIBUTES = {order_pb2.KITE_ALERT_ATTRIBUTE_LAST_PRICE: LAST_TRADED_PRICE}
STATUSES = {
    order_pb2.KITE_ALERT_STATUS_ENABLED: "enabled",
    order_pb2.KITE_ALERT_STATUS_DISABLED: "disabled",
    order_pb2.KITE_ALERT_STATUS_DELETED: "deleted",
}


def _attribute(value: Any, field: str) -> str:
    attribute = ATTRIBUTES.get(value)
    if attribute is None:
        raise invalid(field, "required: KITE_ALERT_ATTRIBUTE_LAST_PRICE")
    return attribute


def _basket_order(order: order_pb2.KiteAlertOrder, master: InstrumentMaster, field: str) -> BasketOrder:
    listing = master.resolve(mapping.instrument_ref(order.instrument), f"{field}.instrument")
    if order.quantity <= 0:
        raise invalid(f"{field}.quantity", "must be positive")
    return BasketOrder(
        exchange=listing.exchange,
        tradingsymbol=listing.tradingsymbol,
        transaction_type=mapping.transaction_text(order.transaction_type, f"{field}.transaction_type"),
        quantity=order.quantity,
        product=mapping.product_text(order.product, f"{field}.product"),
        order_type=mapping.order_type_text(order.order_type, f"{field}.order_type"),
        price=mapping.from_decimal_pb(order.price, f"{field}.price"),
        trigger_price=mapping.from_decimal_pb(order.trigger_price, f"{field}.trigger_price"),
    )


def alert_spec(params: order_pb2.KiteAlertParams, master: InstrumentMaster) -> AlertSpec:
    """The alert a valid KiteAlertParams describes."""
    if not params.name.strip():
        raise invalid("params.name", "required: a name for the alert")
    kind = TYPES.get(params.type)
    if kind is None:
        raise invalid("params.type", "required: KITE_ALERT_TYPE_SIMPLE or KITE_ALERT_TYPE_ATO")
    lhs = master.resolve(mapping.instrument_ref(params.instrument), "params.instrument")
    attribute = _attribute(params.attribute, "params.attribute")
    operator = OPERATORS.get(params.operator)
    if operator is None:
        raise invalid("params.operator", "required: one of KITE_ALERT_OPERATOR_LESS_EQUAL, _GREATER_EQUAL, _LESS, "
                      "_GREATER, _EQUAL")  # fmt: skip
    rhs = params.WhichOneof("rhs")
    if rhs is None:
        raise invalid("params.rhs", "required: a constant or an rhs_instrument")
    basket: tuple[BasketOrder, ...] = ()
    if kind == ALERT_ATO:
        if not 0 < len(params.basket) <= BASKET_ORDERS:
            raise invalid("params.basket", f"an ATO alert places 1 to {BASKET_ORDERS} orders")
        basket = tuple(_basket_order(o, master, f"params.basket[{i}]") for i, o in enumerate(params.basket))
    elif params.basket:
        raise invalid("params.basket", "only an ATO alert places orders; a SIMPLE one has no basket")
    base = AlertSpec(params.name, kind, lhs.exchange, lhs.tradingsymbol, attribute, operator, RHS_CONSTANT,
                     basket=basket)  # fmt: skip
    if rhs == "constant":
        return replace(base, rhs_constant=mapping.from_decimal_pb(params.constant, "params.constant"))
    other = master.resolve(mapping.instrument_ref(params.rhs_instrument), "params.rhs_instrument")
    return replace(
        base,
        rhs_type=RHS_INSTRUMENT,
        rhs_exchange=other.exchange,
        rhs_tradingsymbol=other.tradingsymbol,
        rhs_attribute=_attribute(params.rhs_attribute, "params.rhs_attribute"),
    )


def status_text(status: Any) -> str:
    return STATUSES.get(status, "")


def _key(table: Mapping[Any, str], text: str) -> Any:
    return next((k for k, v in table.items() if v == text), 0)


def _symbol(exchange: str, tradingsymbol: str) -> common_pb2.InstrumentRef:
    return common_pb2.InstrumentRef(symbol=f"{exchange}:{tradingsymbol}")


def alert_pb(account_id: str, row: AlertRow) -> order_pb2.KiteAlert:
    alert = order_pb2.KiteAlert(
        alert_id=row.uuid,
        account_id=account_id,
        status=_key(STATUSES, row.status),
        disabled_reason=row.disabled_reason,
        trigger_count=row.alert_count,
    )
    p = alert.params
    p.name = row.name
    p.type = _key(TYPES, row.kind)
    p.instrument.CopyFrom(_symbol(row.lhs_exchange, row.lhs_tradingsymbol))
    p.attribute = _key(ATTRIBUTES, row.lhs_attribute)
    p.operator = _key(OPERATORS, row.operator)
    if row.rhs_type == RHS_INSTRUMENT:
        p.rhs_instrument.CopyFrom(_symbol(row.rhs_exchange, row.rhs_tradingsymbol))
        p.rhs_attribute = _key(ATTRIBUTES, row.rhs_attribute)
    else:
        p.constant.CopyFrom(mapping.decimal_pb(row.rhs_constant))
    for order in row.basket:
        p.basket.add(
            instrument=_symbol(order.exchange, order.tradingsymbol),
            transaction_type=mapping.transaction_pb(order.transaction_type),
            quantity=order.quantity,
            product=mapping.product_pb(order.product),
            order_type=mapping.order_type_pb(order.order_type),
            price=mapping.decimal_pb(order.price),
            trigger_price=mapping.decimal_pb(order.trigger_price),
        )
    mapping.set_time(alert, "create_time", row.created_at)
    mapping.set_time(alert, "update_time", row.updated_at)
    return alert


def trigger_pb(row: AlertHistoryRow) -> order_pb2.KiteAlertTrigger:
    trigger = order_pb2.KiteAlertTrigger(condition=row.condition)
    for quote in row.quotes:
        trigger.quotes.add(instrument=_symbol(quote.exchange, quote.tradingsymbol),
                           last_price=mapping.decimal_pb(quote.last_price))  # fmt: skip
    for result in row.orders:
        trigger.orders.add(order_id=result.order_id, status=result.status, error=result.error)
    mapping.set_time(trigger, "trigger_time", row.created_at)
    return trigger

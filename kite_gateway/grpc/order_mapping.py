"""OrderService messages to and from the order use cases' own types (kite_gateway/core/orders):
requests become core requests (instruments resolved, enums as Kite's texts, exact decimals), core
results and Kite's rows become messages."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.orders import (
    Cancellation,
    Fill,
    FillCharges,
    LegResult,
    MarginPreview,
    Modification,
    NewOrder,
    OrderParams,
    OrderState,
    OrderTarget,
    Placed,
    Protection,
    check_tradable,
    fingerprint,
)
from kite_gateway.core.risk import SwitchState
from kite_gateway.grpc import mapping
from kite_gateway.grpc.decimal_text import canonical
from kite_gateway.grpc.status import failure_pb
from kite_gateway.kite import ChargesRow, MarginRow

# Requests ---------------------------------------------------------------------------------------

Placing = TypeVar("Placing", order_pb2.PlaceOrderRequest, order_pb2.BulkOrderLeg, order_pb2.BasketLeg)


def with_algo_id(request: Placing, default: str) -> Placing:
    """The request as it is sent: its order's own algo ID, else `default` (the principal's or the
    gateway's), so that the audit trail and the idempotency fingerprint hold the ID Kite gets."""
    if request.params.algo_id or not default:
        return request
    filled = type(request)()
    filled.CopyFrom(request)
    filled.params.algo_id = default
    return filled


def order_params(params: order_pb2.OrderParams, master: InstrumentMaster, field: str) -> OrderParams:
    """A request's order fields (INVALID_ARGUMENT naming the field of what cannot be read)."""
    listing = master.resolve(mapping.instrument_ref(params.instrument), f"{field}.instrument")
    check_tradable(listing, f"{field}.instrument")
    variety = mapping.variety_text(params.variety, f"{field}.variety")
    order_type = mapping.order_type_text(params.order_type, f"{field}.order_type")
    product = mapping.product_text(params.product, f"{field}.product")
    transaction_type = mapping.transaction_text(params.transaction_type, f"{field}.transaction_type")
    validity = mapping.validity_text(params.validity)
    price = mapping.from_decimal_pb(params.price, f"{field}.price")
    trigger = mapping.from_decimal_pb(params.trigger_price, f"{field}.trigger_price")
    kind = params.WhichOneof("market_protection")
    protection = {
        None: None,
        "market_protection_auto": Protection.AUTO,
        "market_protection_percent": Protection.PERCENT,
    }[kind]
    percent = (
        mapping.from_decimal_pb(params.market_protection_percent, f"{field}.market_protection_percent")
        if protection is Protection.PERCENT
        else Decimal(0)
    )
    return OrderParams(
        listing=listing,
        variety=variety,
        order_type=order_type,
        product=product,
        transaction_type=transaction_type,
        validity=validity,
        quantity=params.quantity,
        price=price,
        trigger_price=trigger,
        protection=protection,
        protection_percent=percent,
        validity_ttl_minutes=params.validity_ttl_minutes,
        disclosed_quantity=params.disclosed_quantity,
        iceberg_legs=params.iceberg_legs,
        iceberg_quantity=params.iceberg_quantity,
        auction_number=params.auction_number,
        algo_id=params.algo_id,
        autoslice=params.autoslice,
    )


def new_order(
    account_id: str, client_order_id: str, params: order_pb2.OrderParams, master: InstrumentMaster, field: str = ""
) -> NewOrder:
    """A new order of a PlaceOrder request (or of a bulk request's leg, `field` "legs[i].")."""
    return NewOrder(
        account_id,
        client_order_id,
        order_params(params, master, f"{field}params"),
        fingerprint(canonical(params)),
        field,
    )


def order_target(target: order_pb2.OrderTarget) -> OrderTarget:
    kind = target.WhichOneof("target")
    if kind == "order_id":
        return OrderTarget(order_id=target.order_id)
    if kind == "client_order_id":
        return OrderTarget(client_order_id=target.client_order_id)
    return OrderTarget()


def modification(request: order_pb2.ModifyOrderRequest) -> Modification:
    return Modification(
        quantity=request.quantity if request.HasField("quantity") else None,
        price=mapping.from_decimal_pb(request.price, "price") if request.HasField("price") else None,
        trigger_price=(
            mapping.from_decimal_pb(request.trigger_price, "trigger_price")
            if request.HasField("trigger_price")
            else None
        ),
        order_type=mapping.order_type_text(request.order_type, "order_type") if request.order_type else None,
        validity=mapping.validity_text(request.validity) if request.validity else None,
        disclosed_quantity=request.disclosed_quantity if request.HasField("disclosed_quantity") else None,
    )


def fill(message: order_pb2.ChargeableFill, master: InstrumentMaster, i: int) -> Fill:
    field = f"fills[{i}]"
    listing = master.resolve(mapping.instrument_ref(message.instrument), f"{field}.instrument")
    price = mapping.from_decimal_pb(message.average_price, f"{field}.average_price")
    return Fill(
        order_id=message.order_id,
        listing=listing,
        transaction_type=mapping.transaction_text(message.transaction_type, f"{field}.transaction_type"),
        variety=mapping.variety_text(message.variety or common_pb2.VARIETY_REGULAR, f"{field}.variety"),
        product=mapping.product_text(message.product, f"{field}.product"),
        order_type=mapping.order_type_text(message.order_type or common_pb2.ORDER_TYPE_MARKET, f"{field}.order_type"),
        quantity=message.quantity,
        average_price=price,
    )


# Results ----------------------------------------------------------------------------------------


def orders_pb(account_id: str, states: list[OrderState]) -> list[order_pb2.Order]:
    return [mapping.order_pb(account_id, state.row, state.client_order_id) for state in states]


def placed_pb(placed: Placed) -> order_pb2.PlaceOrderResponse:
    """A placement's answer; an autoslice's with its parent and every child (placed or refused)."""
    children = [
        order_pb2.AutosliceChild(order_id=child.order_id)
        if child.error is None
        else order_pb2.AutosliceChild(failure=failure_pb(child.error))
        for child in placed.children
    ]
    return order_pb2.PlaceOrderResponse(
        order_id=placed.order_id,
        client_order_id=placed.client_order_id,
        replayed=placed.replayed,
        parent_order_id=placed.parent_order_id,
        children=children,
    )


def placed_outcome(placed: Placed) -> str:
    """A placement as the audit trail's outcome: "ok", and an autoslice's parent and every child."""
    if not placed.parent_order_id:
        return "ok"
    children = ", ".join(
        child.order_id if child.error is None else f"refused ({child.error.reason_name}: {child.error.message})"
        for child in placed.children
    )
    return f"ok: autosliced, parent order {placed.parent_order_id}, children {children}"


def leg_result_pb(result: LegResult) -> order_pb2.BulkOrderLegResult:
    message = order_pb2.BulkOrderLegResult(account_id=result.account_id, client_order_id=result.client_order_id)
    if result.placed is not None:
        message.placed.CopyFrom(placed_pb(result.placed))
    if result.failure is not None:
        message.failure.CopyFrom(failure_pb(result.failure))
    return message


def breakdown_pb(row: MarginRow) -> order_pb2.MarginBreakdown:
    pnl = row.get("pnl") or {}
    return order_pb2.MarginBreakdown(
        span=mapping.decimal_pb(row.get("span")),
        exposure=mapping.decimal_pb(row.get("exposure")),
        option_premium=mapping.decimal_pb(row.get("option_premium")),
        additional=mapping.decimal_pb(row.get("additional")),
        bo=mapping.decimal_pb(row.get("bo")),
        cash=mapping.decimal_pb(row.get("cash")),
        var=mapping.decimal_pb(row.get("var")),
        pnl_realised=mapping.decimal_pb(pnl.get("realised")),
        pnl_unrealised=mapping.decimal_pb(pnl.get("unrealised")),
        leverage=mapping.decimal_pb(row.get("leverage")),
        total=mapping.decimal_pb(row.get("total")),
    )


def charges_pb(row: ChargesRow) -> order_pb2.Charges:
    gst = row.get("gst") or {}
    return order_pb2.Charges(
        transaction_tax=mapping.decimal_pb(row.get("transaction_tax")),
        transaction_tax_type=row.get("transaction_tax_type") or "",
        exchange_turnover_charge=mapping.decimal_pb(row.get("exchange_turnover_charge")),
        sebi_turnover_charge=mapping.decimal_pb(row.get("sebi_turnover_charge")),
        brokerage=mapping.decimal_pb(row.get("brokerage")),
        stamp_duty=mapping.decimal_pb(row.get("stamp_duty")),
        gst=mapping.decimal_pb(gst.get("total")),
        total=mapping.decimal_pb(row.get("total")),
    )


def margins_pb(preview: MarginPreview) -> order_pb2.GetOrderMarginsResponse:
    return order_pb2.GetOrderMarginsResponse(
        orders=[
            order_pb2.OrderMargin(
                symbol=mapping.symbol(m), margin=breakdown_pb(m), charges=charges_pb(m.get("charges") or {})
            )
            for m in preview.orders
        ],
        basket_initial=breakdown_pb(preview.basket.get("initial") or {}),
        basket_final=breakdown_pb(preview.basket.get("final") or {}),
    )


def fill_charges_pb(charges: FillCharges) -> order_pb2.FillCharges:
    note = charges.note
    return order_pb2.FillCharges(
        order_id=charges.order_id, symbol=mapping.symbol(note), charges=charges_pb(note.get("charges") or {})
    )


def kill_switch_pb(state: SwitchState) -> order_pb2.KillSwitch:
    message = order_pb2.KillSwitch(
        account_id=state.account_id, engaged=state.engaged, reason=state.reason, principal=state.principal
    )
    if state.updated_at is not None:
        message.update_time.FromDatetime(state.updated_at)
    return message


def cancellation_pb(cancellation: Cancellation) -> order_pb2.KillSwitchCancellation:
    return order_pb2.KillSwitchCancellation(
        account_id=cancellation.account_id,
        order_id=cancellation.order_id,
        cancelled=cancellation.cancelled,
        error=cancellation.error,
    )

"""PlaceBasket messages to and from the core's basket (kite_gateway/core/orders/basket.py)."""

from __future__ import annotations

from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.market import InstrumentMaster
from kite_gateway.core.orders import (
    BasketLegResult,
    BasketRequest,
    BasketResult,
    LegStatus,
    Policy,
    check_client_order_id,
)
from kite_gateway.grpc import mapping
from kite_gateway.grpc.order_mapping import new_order, with_algo_id
from kite_gateway.grpc.status import failure_pb

POLICIES = {
    order_pb2.BASKET_FAILURE_POLICY_BEST_EFFORT: Policy.BEST_EFFORT,
    order_pb2.BASKET_FAILURE_POLICY_UNWIND: Policy.UNWIND,
}
STATUSES = {
    LegStatus.PLACED: order_pb2.BASKET_LEG_STATUS_PLACED,
    LegStatus.FAILED: order_pb2.BASKET_LEG_STATUS_FAILED,
    LegStatus.NOT_SENT: order_pb2.BASKET_LEG_STATUS_NOT_SENT,
    LegStatus.UNWOUND: order_pb2.BASKET_LEG_STATUS_UNWOUND,
    LegStatus.UNWIND_FAILED: order_pb2.BASKET_LEG_STATUS_UNWIND_FAILED,
}


def basket_request(request: order_pb2.PlaceBasketRequest, master: InstrumentMaster, algo_id: str) -> BasketRequest:
    """The request's basket (INVALID_ARGUMENT naming the field that cannot be read); each leg's
    algo ID its own, else `algo_id` (fingerprinted as sent, as PlaceOrder's)."""
    legs = []
    for i, leg in enumerate(request.legs):
        check_client_order_id(leg.client_order_id, f"legs[{i}].client_order_id")
        leg = with_algo_id(leg, algo_id)
        legs.append(new_order(request.account_id, leg.client_order_id, leg.params, master, f"legs[{i}]."))
    return BasketRequest(
        request.account_id, request.basket_id, tuple(legs), POLICIES.get(request.failure_policy),
        request.preview_only, request.consider_positions,
    )  # fmt: skip


def leg_pb(leg: BasketLegResult) -> order_pb2.BasketLegResult:
    message = order_pb2.BasketLegResult(
        client_order_id=leg.client_order_id,
        order_id=leg.order_id,
        status=STATUSES[leg.status],
        sequence=leg.sequence,
        filled_quantity=leg.filled_quantity,
        unwind_order_id=leg.unwind_order_id,
    )
    if leg.failure is not None:
        message.failure.CopyFrom(failure_pb(leg.failure))
    return message


def basket_pb(result: BasketResult) -> order_pb2.PlaceBasketResponse:
    margin = result.margin
    preview = order_pb2.BasketMarginPreview(
        required=mapping.decimal_pb(margin.required), initial=mapping.decimal_pb(margin.initial),
        sufficient=margin.sufficient,
    )  # fmt: skip
    if margin.available is not None:
        preview.available.CopyFrom(mapping.decimal_pb(margin.available))
    return order_pb2.PlaceBasketResponse(
        basket_id=result.basket_id,
        margin_preview=preview,
        legs=[leg_pb(leg) for leg in result.legs],
        replayed=result.replayed,
        unwound=result.unwound,
    )

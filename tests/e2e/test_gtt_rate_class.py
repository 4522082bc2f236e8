"""GTT writes are paced in the rate class Kite counts `/gtt` in: "all other endpoints", not order
placement (the docs' four rows: quote, historical, order placement, all other endpoints)."""

from __future__ import annotations

from kite_gateway_api.v1 import order_pb2

from kite_gateway.grpc.mapping import decimal_pb
from kite_gateway.observability.metrics import REGISTRY
from tests.e2e.conftest import Stack
from tests.e2e.test_orders import single_sell_gtt

ACCOUNT = "ZS0001"
GTT_METHODS = ("place_gtt", "modify_gtt", "delete_gtt")


def calls(endpoint_class: str, method: str) -> float:
    """How many Kite calls of `method` the gateway made in `endpoint_class` (process-wide)."""
    labels = {"endpoint_class": endpoint_class, "method": method}
    return REGISTRY.get_sample_value("kite_request_duration_seconds_count", labels) or 0.0


async def test_gtt_place_modify_and_delete_are_paced_as_other_endpoints_not_as_orders(stack: Stack) -> None:
    before = {(kind, m): calls(kind, m) for kind in ("orders", "other") for m in GTT_METHODS}
    price, params = single_sell_gtt(stack)
    placed = await stack.orders.PlaceGtt(
        order_pb2.PlaceGttRequest(account_id=ACCOUNT, client_order_id="gtt-class", params=params)
    )
    params.trigger_values[0].CopyFrom(decimal_pb(price + 60))
    await stack.orders.ModifyGtt(order_pb2.ModifyGttRequest(account_id=ACCOUNT, gtt_id=placed.gtt_id, params=params))
    await stack.orders.DeleteGtt(order_pb2.DeleteGttRequest(account_id=ACCOUNT, gtt_id=placed.gtt_id))

    for method in GTT_METHODS:
        assert calls("other", method) - before[("other", method)] == 1, method
        assert calls("orders", method) - before[("orders", method)] == 0, method

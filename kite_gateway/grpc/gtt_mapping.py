"""GTT triggers between protos and the typed Kite adapter: GttParams checked and turned into a
GttOrder (INVALID_ARGUMENT naming the field), and a Kite GttRow as a Gtt message."""

from __future__ import annotations

from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.market import InstrumentMaster
from kite_gateway.errors import invalid
from kite_gateway.grpc import mapping
from kite_gateway.kite import SINGLE, TWO_LEG, GttLeg, GttOrder, GttRow

TRIGGER_TYPES = {order_pb2.GTT_TYPE_SINGLE: SINGLE, order_pb2.GTT_TYPE_TWO_LEG: TWO_LEG}


def gtt_order(params: order_pb2.GttParams, master: InstrumentMaster) -> GttOrder:
    """The trigger a valid GttParams describes."""
    listing = master.resolve(mapping.instrument_ref(params.instrument), "params.instrument")
    kind = TRIGGER_TYPES.get(params.type)
    if kind is None:
        raise invalid("params.type", "required: GTT_TYPE_SINGLE or GTT_TYPE_TWO_LEG")
    needed = 1 if kind == SINGLE else 2
    if len(params.trigger_values) != needed or len(params.legs) != needed:
        raise invalid("params.trigger_values", f"a {kind} GTT needs {needed} trigger value(s) and {needed} leg(s)")
    last_price = mapping.from_decimal_pb(params.last_price, "params.last_price")
    if last_price <= 0:
        raise invalid("params.last_price", "required: the instrument's last price when the GTT is made")
    legs = []
    for i, leg in enumerate(params.legs):
        price = mapping.from_decimal_pb(leg.price, f"params.legs[{i}].price")
        if price <= 0 or leg.quantity <= 0:
            raise invalid(f"params.legs[{i}]", "quantity and price must be positive")
        legs.append(
            GttLeg(
                transaction_type=mapping.transaction_text(leg.transaction_type, f"params.legs[{i}].transaction_type"),
                quantity=leg.quantity,
                product=mapping.product_text(leg.product, f"params.legs[{i}].product"),
                price=price,
            )
        )
    triggers = tuple(
        mapping.from_decimal_pb(v, f"params.trigger_values[{i}]") for i, v in enumerate(params.trigger_values)
    )
    return GttOrder(
        trigger_type=kind,
        exchange=listing.exchange,
        tradingsymbol=listing.tradingsymbol,
        trigger_values=triggers,
        last_price=last_price,
        legs=tuple(legs),
    )


def gtt_status_pb(status: str) -> order_pb2.GttStatus.ValueType:
    name = f"GTT_STATUS_{status.upper()}"
    return order_pb2.GttStatus.Value(name) if name in order_pb2.GttStatus.keys() else order_pb2.GTT_STATUS_UNSPECIFIED  # noqa: SIM118


def gtt_pb(account_id: str, row: GttRow) -> order_pb2.Gtt:
    gtt = order_pb2.Gtt(gtt_id=row.gtt_id, account_id=account_id, status=gtt_status_pb(row.status))
    params = gtt.params
    params.type = order_pb2.GTT_TYPE_TWO_LEG if row.trigger_type == TWO_LEG else order_pb2.GTT_TYPE_SINGLE
    params.instrument.symbol = f"{row.exchange}:{row.tradingsymbol}"
    params.last_price.CopyFrom(mapping.decimal_pb(row.last_price))
    params.trigger_values.extend(mapping.decimal_pb(v) for v in row.trigger_values)
    for order in row.legs:
        leg = params.legs.add(
            transaction_type=mapping.transaction_pb(order.transaction_type),
            quantity=order.quantity,
            product=mapping.product_pb(order.product),
            price=mapping.decimal_pb(order.price),
        )
        result = order.result
        if result is not None:
            leg.result.order_id = result.order_id
            leg.result.status = result.status
            leg.result.rejection_reason = result.rejection_reason
            mapping.set_time(leg.result, "trigger_time", result.triggered_at)
    mapping.set_time(gtt, "create_time", row.created_at)
    mapping.set_time(gtt, "update_time", row.updated_at)
    mapping.set_time(gtt, "expire_time", row.expires_at)
    return gtt

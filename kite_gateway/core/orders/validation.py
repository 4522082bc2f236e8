"""Order requests checked before anything reaches Kite, with INVALID_ARGUMENT naming the field:
quantity against the lot size, prices against the tick size, the fields each order type needs,
product and variety combinations, market protection."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.core.market.instruments import InstrumentMaster, Listing
from kite_gateway.errors import invalid
from kite_gateway.grpc import mapping
from kite_gateway.grpc.request_limits import CLIENT_ORDER_ID
from kite_wire import order_rules as rules


def check_client_order_id(value: str, field: str = "client_order_id") -> None:
    if not CLIENT_ORDER_ID.fullmatch(value):
        raise invalid(field, "required: 1-64 characters of letters, digits and . _ : - (the idempotency key)")


def fingerprint(params: order_pb2.OrderParams | order_pb2.GttParams) -> str:
    """Identifies the fields of a request: a retry with the same client_order_id must match it."""
    return hashlib.sha256(params.SerializeToString(deterministic=True)).hexdigest()


def _on_grid(value: Decimal, listing: Listing, field: str) -> None:
    if not rules.is_on_tick(value, listing.tick_size):
        raise invalid(field, f"{value} is not a multiple of the tick size {listing.tick_size} of {listing.symbol}")


def order_kwargs(
    params: order_pb2.OrderParams, master: InstrumentMaster, default_protection: Decimal, field: str = "params"
) -> dict[str, Any]:
    """The official client's place_order arguments for a valid request (tag added by the caller)."""
    listing = master.resolve(params.instrument, f"{field}.instrument")
    if not listing.tradable:
        raise invalid(f"{field}.instrument", f"{listing.symbol} is an index and cannot be traded")
    variety = mapping.variety_text(params.variety, f"{field}.variety")
    order_type = mapping.order_type_text(params.order_type, f"{field}.order_type")
    product = mapping.product_text(params.product, f"{field}.product")
    kwargs: dict[str, Any] = {
        "variety": variety,
        "exchange": listing.exchange,
        "tradingsymbol": listing.tradingsymbol,
        "transaction_type": mapping.transaction_text(params.transaction_type, f"{field}.transaction_type"),
        "quantity": params.quantity,
        "product": product,
        "order_type": order_type,
        "validity": mapping.validity_text(params.validity),
    }
    lot = rules.lot_of(listing.lot_size)
    if params.quantity <= 0:
        raise invalid(f"{field}.quantity", "must be positive")
    if not rules.is_lot_multiple(params.quantity, listing.lot_size):
        raise invalid(
            f"{field}.quantity", f"{params.quantity} is not a multiple of the lot size {lot} of {listing.symbol}"
        )
    if product == "CO" and variety != "co":
        raise invalid(f"{field}.product", "CO is the product of cover orders (VARIETY_CO) only")
    if rules.delivery_refused(product, listing.is_derivative):
        raise invalid(f"{field}.product", f"{product} is for equity delivery; use NRML or MIS for {listing.symbol}")
    if rules.carry_forward_refused(product, listing.is_derivative):
        raise invalid(f"{field}.product", f"NRML is for derivatives; use CNC or MIS for {listing.symbol}")
    if variety == "co" and product not in ("MIS", "CO"):
        raise invalid(f"{field}.product", "cover orders are intraday: use MIS")

    price = mapping.from_decimal_pb(params.price, f"{field}.price")
    trigger = mapping.from_decimal_pb(params.trigger_price, f"{field}.trigger_price")
    if rules.needs_price(order_type):
        if price <= 0:
            raise invalid(f"{field}.price", f"required and positive for {order_type} orders")
        _on_grid(price, listing, f"{field}.price")
        kwargs["price"] = mapping.kite_number(price)
    elif price:
        raise invalid(f"{field}.price", f"must be unset for {order_type} orders")
    if rules.needs_trigger(order_type, variety):
        if trigger <= 0:
            raise invalid(f"{field}.trigger_price", f"required and positive for {order_type} and cover orders")
        _on_grid(trigger, listing, f"{field}.trigger_price")
        kwargs["trigger_price"] = mapping.kite_number(trigger)
    elif trigger:
        raise invalid(f"{field}.trigger_price", f"must be unset for {order_type} orders")

    protection_kind = params.WhichOneof("market_protection")
    if rules.takes_market_protection(order_type):
        if protection_kind == "market_protection_percent":
            percent = mapping.from_decimal_pb(params.market_protection_percent, f"{field}.market_protection_percent")
            if not 0 < percent <= rules.MAX_MARKET_PROTECTION:
                raise invalid(f"{field}.market_protection_percent", "must be above 0 and at most 100")
            kwargs["market_protection"] = mapping.kite_number(percent)
        else:
            kwargs["market_protection"] = -1 if protection_kind == "market_protection_auto" else (
                mapping.kite_number(default_protection)
            )  # fmt: skip
    elif protection_kind is not None:
        raise invalid(f"{field}.market_protection", f"applies to MARKET and SL-M orders only, not {order_type}")

    if params.validity == common_pb2.VALIDITY_TTL:
        if rules.ttl_missing("TTL", params.validity_ttl_minutes):
            raise invalid(f"{field}.validity_ttl_minutes", "required and positive with VALIDITY_TTL")
        kwargs["validity_ttl"] = params.validity_ttl_minutes
    elif params.validity_ttl_minutes:
        raise invalid(f"{field}.validity_ttl_minutes", "applies to VALIDITY_TTL only")
    if params.disclosed_quantity:
        if not rules.disclosed_quantity_valid(params.disclosed_quantity, params.quantity):
            raise invalid(f"{field}.disclosed_quantity", "must be between 1 and the quantity")
        kwargs["disclosed_quantity"] = params.disclosed_quantity
    if variety == "iceberg":
        if not rules.iceberg_legs_valid(params.iceberg_legs):
            raise invalid(f"{field}.iceberg_legs", "required: 2 to 10 legs for VARIETY_ICEBERG")
        if not rules.iceberg_covers(params.iceberg_legs, params.iceberg_quantity, params.quantity):
            raise invalid(f"{field}.iceberg_quantity", "required: legs x iceberg_quantity must cover the quantity")
        kwargs["iceberg_legs"] = params.iceberg_legs
        kwargs["iceberg_quantity"] = params.iceberg_quantity
    elif params.iceberg_legs or params.iceberg_quantity:
        raise invalid(f"{field}.iceberg_legs", "applies to VARIETY_ICEBERG only")
    if variety == "auction":
        if not params.auction_number:
            raise invalid(f"{field}.auction_number", "required for VARIETY_AUCTION")
        kwargs["auction_number"] = params.auction_number
    elif params.auction_number:
        raise invalid(f"{field}.auction_number", "applies to VARIETY_AUCTION only")
    return kwargs

"""Order requests checked before anything reaches Kite, with INVALID_ARGUMENT naming the field:
quantity against the lot size, prices against the tick size, the fields each order type needs,
product and variety combinations, market protection (never 0: Kite refuses it since SEBI's 2026
rules, and the refusal carries Kite's words), no IOC on MCX, the algo ID's form. A modification is
held to the same lot and tick rules (and the MCX IOC rule) as a new order."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Protocol

from kite_gateway.core.market import Listing
from kite_gateway.core.orders.requests import Modification, OrderParams, Protection
from kite_gateway.errors import invalid
from kite_gateway.kite import KiteValue
from kite_wire import MARKET_PROTECTION_REQUIRED, MCX_IOC_REFUSED, kite_number
from kite_wire import order_rules as rules

CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class Serialisable(Protocol):
    """A request message, as far as its fingerprint goes."""

    def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...


def check_client_order_id(value: str, field: str = "client_order_id") -> None:
    if not CLIENT_ORDER_ID.fullmatch(value):
        raise invalid(field, "required: 1-64 characters of letters, digits and . _ : - (the idempotency key)")


def check_algo_id(value: str, field: str = "algo_id") -> None:
    """An algo ID, when given: 1-64 letters, digits and . _ - (empty: none is sent)."""
    if value and not rules.algo_id_valid(value):
        raise invalid(field, "1-64 characters of letters, digits and . _ - (the exchange-issued algo ID)")


def _ioc_allowed(exchange: str, validity: str, field: str) -> None:
    if rules.ioc_refused(exchange, validity):
        raise invalid(field, f"{MCX_IOC_REFUSED} Use VALIDITY_DAY (or a LIMIT order with a short TTL) on MCX")


def fingerprint(params: Serialisable) -> str:
    """Identifies the fields of a request: a retry with the same client_order_id must match it."""
    return hashlib.sha256(params.SerializeToString(deterministic=True)).hexdigest()


def check_tradable(listing: Listing, field: str) -> None:
    """An index has no orders."""
    if not listing.tradable:
        raise invalid(field, f"{listing.symbol} is an index and cannot be traded")


def _on_grid(value: Decimal, listing: Listing, field: str) -> None:
    if not rules.is_on_tick(value, listing.tick_size):
        raise invalid(field, f"{value} is not a multiple of the tick size {listing.tick_size} of {listing.symbol}")


def _in_lots(quantity: int, listing: Listing, field: str) -> None:
    lot = rules.lot_of(listing.lot_size)
    if quantity <= 0:
        raise invalid(field, "must be positive")
    if not rules.is_lot_multiple(quantity, listing.lot_size):
        raise invalid(field, f"{quantity} is not a multiple of the lot size {lot} of {listing.symbol}")


def order_kwargs(params: OrderParams, default_protection: Decimal, field: str = "params") -> dict[str, KiteValue]:
    """The official client's place_order arguments for a valid request (tag added by the caller)."""
    listing = params.listing
    check_tradable(listing, f"{field}.instrument")
    variety, order_type, product = params.variety, params.order_type, params.product
    kwargs: dict[str, KiteValue] = {
        "variety": variety,
        "exchange": listing.exchange,
        "tradingsymbol": listing.tradingsymbol,
        "transaction_type": params.transaction_type,
        "quantity": params.quantity,
        "product": product,
        "order_type": order_type,
        "validity": params.validity,
    }
    _in_lots(params.quantity, listing, f"{field}.quantity")
    if product == "CO" and variety != "co":
        raise invalid(f"{field}.product", "CO is the product of cover orders (VARIETY_CO) only")
    if rules.delivery_refused(product, listing.is_derivative):
        raise invalid(f"{field}.product", f"{product} is for equity delivery; use NRML or MIS for {listing.symbol}")
    if rules.carry_forward_refused(product, listing.is_derivative):
        raise invalid(f"{field}.product", f"NRML is for derivatives; use CNC or MIS for {listing.symbol}")
    if variety == "co" and product not in ("MIS", "CO"):
        raise invalid(f"{field}.product", "cover orders are intraday: use MIS")

    price, trigger = params.price, params.trigger_price
    if rules.needs_price(order_type):
        if price <= 0:
            raise invalid(f"{field}.price", f"required and positive for {order_type} orders")
        _on_grid(price, listing, f"{field}.price")
        kwargs["price"] = kite_number(price)
    elif price:
        raise invalid(f"{field}.price", f"must be unset for {order_type} orders")
    if rules.needs_trigger(order_type, variety):
        if trigger <= 0:
            raise invalid(f"{field}.trigger_price", f"required and positive for {order_type} and cover orders")
        _on_grid(trigger, listing, f"{field}.trigger_price")
        kwargs["trigger_price"] = kite_number(trigger)
    elif trigger:
        raise invalid(f"{field}.trigger_price", f"must be unset for {order_type} orders")

    if rules.takes_market_protection(order_type):
        if params.protection is Protection.PERCENT:
            percent = params.protection_percent
            if rules.market_protection_missing(order_type, percent):
                raise invalid(f"{field}.market_protection_percent", f"{MARKET_PROTECTION_REQUIRED} (Kite's words)")
            if not 0 < percent <= rules.MAX_MARKET_PROTECTION:
                raise invalid(f"{field}.market_protection_percent", "must be above 0 and at most 100")
            kwargs["market_protection"] = kite_number(percent)
        elif params.protection is Protection.AUTO:
            kwargs["market_protection"] = -1
        else:
            if rules.market_protection_missing(order_type, default_protection):
                raise invalid(
                    f"{field}.market_protection",
                    f"{MARKET_PROTECTION_REQUIRED} (Kite's words; the gateway's KITE_GATEWAY_MARKET_PROTECTION is 0): "
                    "set market_protection_auto or market_protection_percent",
                )
            kwargs["market_protection"] = kite_number(default_protection)
    elif params.protection is not None:
        raise invalid(f"{field}.market_protection", f"applies to MARKET and SL-M orders only, not {order_type}")

    _ioc_allowed(listing.exchange, params.validity, f"{field}.validity")
    if params.validity == "TTL":
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
    if params.autoslice and variety == "iceberg":
        raise invalid(
            f"{field}.autoslice", "cannot be combined with VARIETY_ICEBERG (Kite refuses to slice an iceberg)"
        )
    if variety == "auction":
        if not params.auction_number:
            raise invalid(f"{field}.auction_number", "required for VARIETY_AUCTION")
        kwargs["auction_number"] = params.auction_number
    elif params.auction_number:
        raise invalid(f"{field}.auction_number", "applies to VARIETY_AUCTION only")
    if params.algo_id:
        check_algo_id(params.algo_id, f"{field}.algo_id")
        kwargs["algo_id"] = params.algo_id
    return kwargs


def modify_kwargs(
    change: Modification, listing: Listing | None, default_protection: Decimal = rules.AUTO_MARKET_PROTECTION
) -> dict[str, KiteValue]:
    """The official client's modify_order arguments for a valid modification of an order in
    `listing` (None: its instrument is not in the master, so only positivity is checked). A change
    to MARKET or SL-M carries the gateway's market protection, which Kite requires of them."""
    changes: dict[str, KiteValue] = {}
    if change.quantity is not None:
        if listing is None:
            if change.quantity <= 0:
                raise invalid("quantity", "must be positive")
        else:
            _in_lots(change.quantity, listing, "quantity")
        changes["quantity"] = change.quantity
    for name, value in (("price", change.price), ("trigger_price", change.trigger_price)):
        if value is None:
            continue
        if value <= 0:
            raise invalid(name, "must be positive")
        if listing is not None:
            _on_grid(value, listing, name)
        changes[name] = kite_number(value)
    if change.order_type:
        changes["order_type"] = change.order_type
        if rules.takes_market_protection(change.order_type):
            changes["market_protection"] = kite_number(default_protection)
    if change.validity:
        if listing is not None:
            _ioc_allowed(listing.exchange, change.validity, "validity")
        changes["validity"] = change.validity
    if change.disclosed_quantity is not None:
        changes["disclosed_quantity"] = change.disclosed_quantity
    if not changes:
        raise invalid("order", "nothing to modify: set quantity, price, trigger_price, order_type or validity")
    return changes

"""Kite's order rules, written once for the gateway (which refuses a bad order before it reaches
Kite) and the simulator (which refuses it as Kite does): pure predicates and Kite's words, no I/O
and no messages (each side words its own refusal).

What both check: the words Kite accepts (variety, order type, product, validity); quantity against
the lot size; prices on the tick grid; which order types carry a price, a trigger and market
protection (never 0 since SEBI's 2026 rules); which products an instrument takes; a TTL needs its
minutes; iceberg legs; disclosed quantity; no IOC on MCX."""

from __future__ import annotations

import re
from decimal import Decimal

VARIETIES = ("regular", "amo", "co", "iceberg", "auction")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("CNC", "NRML", "MIS", "MTF", "CO")
VALIDITIES = ("DAY", "IOC", "TTL")

PRICED_ORDER_TYPES = frozenset({"LIMIT", "SL"})  # carry a limit price
STOP_ORDER_TYPES = frozenset({"SL", "SL-M"})  # carry a trigger price
MARKET_ORDER_TYPES = frozenset({"MARKET", "SL-M"})  # fill at the market, within market protection
DELIVERY_PRODUCTS = frozenset({"CNC", "MTF"})  # equity delivery, never for derivatives
CARRY_FORWARD_PRODUCT = "NRML"  # derivatives only

ICEBERG_LEGS = range(2, 11)  # 2 to 10 legs
MAX_AUTOSLICES = 10  # children of one autoslice order, Kite's cap "to stay within 10 OPS"
AUTO_MARKET_PROTECTION = Decimal(-1)  # Kite picks the band
MAX_MARKET_PROTECTION = Decimal(100)  # percent


# The exchange-issued algo ID sent as `algo_id`: its form is not published, so this is kept loose.
ALGO_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def algo_id_valid(value: str) -> bool:
    """1-64 letters, digits and . _ - (an empty algo ID, none at all, is the caller's business)."""
    return ALGO_ID.fullmatch(value) is not None


def lot_of(lot_size: int) -> int:
    """The quantity step: the lot size, 1 for instruments listed without one."""
    return max(lot_size, 1)


def is_lot_multiple(quantity: int, lot_size: int) -> bool:
    return quantity % lot_of(lot_size) == 0


def is_on_tick(price: Decimal, tick_size: Decimal) -> bool:
    """A price on the instrument's tick grid (any price, for an instrument listed without a tick size)."""
    return not tick_size or price % tick_size == 0


def needs_price(order_type: str) -> bool:
    return order_type in PRICED_ORDER_TYPES


def needs_trigger(order_type: str, variety: str) -> bool:
    """Stop-loss orders and cover orders (whose stop-loss leg it is) need a trigger price."""
    return order_type in STOP_ORDER_TYPES or variety == "co"


def takes_market_protection(order_type: str) -> bool:
    return order_type in MARKET_ORDER_TYPES


def market_protection_missing(order_type: str, protection: Decimal) -> bool:
    """A MARKET or SL-M order with market protection 0, which Kite refuses from the API since 2026-04-01."""
    return takes_market_protection(order_type) and protection == 0


def ioc_refused(exchange: str, validity: str) -> bool:
    """MCX takes no IOC orders from algos (the API) since 2026-04-01."""
    return exchange == "MCX" and validity == "IOC"


def delivery_refused(product: str, is_derivative: bool) -> bool:
    """CNC and MTF are equity delivery: a derivative refuses them."""
    return is_derivative and product in DELIVERY_PRODUCTS


def carry_forward_refused(product: str, is_derivative: bool) -> bool:
    """NRML is for derivatives: equity refuses it."""
    return not is_derivative and product == CARRY_FORWARD_PRODUCT


def ttl_missing(validity: str, validity_ttl: int) -> bool:
    """A TTL order without its (positive) minutes to live."""
    return validity == "TTL" and validity_ttl <= 0


def iceberg_legs_valid(legs: int) -> bool:
    return legs in ICEBERG_LEGS


def iceberg_covers(legs: int, leg_quantity: int, quantity: int) -> bool:
    """Legs of a positive quantity that together cover the order's quantity."""
    return leg_quantity > 0 and leg_quantity * legs >= quantity


def disclosed_quantity_valid(disclosed: int, quantity: int) -> bool:
    """The disclosed quantity is at most the order's (0: disclose it all)."""
    return 0 <= disclosed <= quantity

"""Kite's synchronous order checks (HTTP 400 InputException): the market is open (or closed, for
AMOs), quantity against lot size and freeze quantity, product against the instrument, the price and
trigger each order type needs on the tick grid, market protection (never 0), validity (no IOC on MCX),
tag, disclosed quantity.
The order is normalised on the way (prices an order type ignores are zeroed, CO orders get product CO)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kite_simulator.errors import input_error
from kite_simulator.orders import SimOrder
from kite_wire import AMO_WHILE_OPEN, MARKET_PROTECTION_REQUIRED, MARKETS_CLOSED, MCX_IOC_REFUSED, MarketHours
from kite_wire import order_rules as rules


def validate(order: SimOrder, hours: MarketHours, now: datetime, require_market_protection: bool) -> None:
    instrument = order.instrument
    open_now = hours.is_open(instrument.exchange, now)
    if order.variety == "amo" and open_now:
        raise input_error(AMO_WHILE_OPEN)
    if order.variety != "amo" and not open_now:
        raise input_error(MARKETS_CLOSED)
    if order.quantity <= 0:
        raise input_error("Invalid `quantity`.")
    if not rules.is_lot_multiple(order.quantity, instrument.lot_size):
        lot = rules.lot_of(instrument.lot_size)
        raise input_error(f"Quantity should be a multiple of lot size ({lot}) for {instrument.tradingsymbol}.")
    if instrument.freeze_quantity and order.quantity > instrument.freeze_quantity and order.variety != "iceberg":
        raise input_error(
            f"Quantity exceeds the freeze limit of {instrument.freeze_quantity} for {instrument.tradingsymbol}. "
            "Use an iceberg order or autoslice."
        )
    if rules.carry_forward_refused(order.product, instrument.is_derivative):
        raise input_error("NRML is not allowed for equity; use CNC or MIS.")
    if rules.delivery_refused(order.product, instrument.is_derivative):
        raise input_error(f"{order.product} is not allowed for derivatives; use NRML or MIS.")
    if rules.needs_price(order.order_type) and order.price <= 0:
        raise input_error("Invalid `price`. A LIMIT or SL order needs a price.")
    if rules.takes_market_protection(order.order_type) and order.price:
        order.price = Decimal(0)
    if rules.needs_trigger(order.order_type, order.variety):
        if order.trigger_price <= 0:
            raise input_error("Invalid `trigger_price`. A stop-loss order needs a trigger price.")
    elif order.trigger_price:
        order.trigger_price = Decimal(0)
    for name, price in (("price", order.price), ("trigger_price", order.trigger_price)):
        if price and not rules.is_on_tick(price, instrument.tick_size):
            raise input_error(
                f"Tick size for this script is {instrument.tick_size}. Kindly enter {name.replace('_', ' ')} "
                "in the multiple of tick size for this script."
            )
    if rules.takes_market_protection(order.order_type):
        protection = order.market_protection
        if rules.market_protection_missing(order.order_type, protection) and require_market_protection:
            raise input_error(MARKET_PROTECTION_REQUIRED)
        if protection != rules.AUTO_MARKET_PROTECTION and not 0 <= protection <= rules.MAX_MARKET_PROTECTION:
            raise input_error("Invalid `market_protection`: use -1 (automatic) or a percentage up to 100.")
    if rules.ioc_refused(instrument.exchange, order.validity):
        raise input_error(MCX_IOC_REFUSED)
    if rules.ttl_missing(order.validity, order.validity_ttl):
        raise input_error("Invalid `validity_ttl`. A TTL order needs its minutes to live.")
    if order.validity != "TTL":
        order.validity_ttl = 0
    if order.tag is not None and (len(order.tag) > 20 or not order.tag.replace("_", "").isalnum()):
        raise input_error("Invalid `tag`: up to 20 letters and digits.")
    if not rules.disclosed_quantity_valid(order.disclosed_quantity, order.quantity):
        raise input_error("Invalid `disclosed_quantity`.")
    if order.variety == "co":
        order.product = "CO"


def check_iceberg(legs: int, leg_quantity: int, quantity: int) -> None:
    """2 to 10 legs of a positive quantity that together cover the order's."""
    if not rules.iceberg_legs_valid(legs) or not rules.iceberg_covers(legs, leg_quantity, quantity):
        raise input_error("Invalid `iceberg_legs` or `iceberg_quantity`.")

"""Matching rules of one order against one quote, without state: when an order expires, the worst
price it accepts, whether a stop-loss triggers, how deep into the book it fills."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from kite_simulator import orders as st
from kite_simulator.market import LiveQuote
from kite_simulator.orders import SimOrder
from kite_wire import AUTO_MARKET_PROTECTION, IST, MarketHours, needs_price

AUTO_PROTECTION = Decimal(2)  # percent applied when market_protection is -1


def expiry(order: SimOrder, hours: MarketHours, now: datetime) -> str | None:
    """Why a working order is cancelled now (its TTL ran out, its session ended), or None."""
    if order.validity == "TTL" and order.order_time and now >= order.order_time + timedelta(minutes=order.validity_ttl):
        return "Order cancelled as its time to live expired."
    window = hours.session(order.instrument.exchange, (order.exchange_time or now).astimezone(IST).date())
    if window and now >= window[1] and order.status != st.AMO_REQ_RECEIVED:
        return "Order cancelled by the exchange at the end of the session."
    return None


def triggered(order: SimOrder, quote: LiveQuote) -> bool:
    """A buy stop triggers at or above its trigger price, a sell stop at or below."""
    if order.transaction_type == "BUY":
        return quote.last_price >= order.trigger_price
    return quote.last_price <= order.trigger_price


def limit_price(order: SimOrder, quote: LiveQuote) -> Decimal:
    """The worst price the order fills at: its limit, or the market protection band around the LTP."""
    if needs_price(order.order_type):
        return order.price
    percent = AUTO_PROTECTION if order.market_protection == AUTO_MARKET_PROTECTION else order.market_protection
    band = quote.last_price * percent / 100
    return quote.last_price + band if order.transaction_type == "BUY" else quote.last_price - band


def fills(order: SimOrder, quote: LiveQuote) -> list[tuple[int, Decimal]]:
    """(quantity, price) taken level by level from the opposite side of the book, within the limit."""
    buy = order.transaction_type == "BUY"
    limit = limit_price(order, quote)
    wanted = order.pending_quantity
    taken: list[tuple[int, Decimal]] = []
    for level in quote.offers if buy else quote.bids:
        if wanted <= 0 or (buy and level.price > limit) or (not buy and level.price < limit):
            break
        take = min(wanted, level.quantity)
        if take:
            taken.append((take, level.price))
            wanted -= take
    return taken

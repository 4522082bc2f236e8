"""Kite's RMS: what an account has used (margins, premiums, delivery value, M2M) and why an accepted
order is REJECTED: a price outside the circuit limits, insufficient holdings, insufficient funds."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from kite_simulator.engine.accounts import Account
from kite_simulator.margins import Margin, order_margin
from kite_simulator.market import LiveQuote
from kite_simulator.orders import SimOrder
from kite_simulator.portfolio import Utilised
from kite_simulator.universe import SimInstrument

QuoteOf = Callable[[SimInstrument], LiveQuote]


def margin_of(order: SimOrder, quote: LiveQuote) -> Margin:
    """What an order's pending quantity blocks, at its price (or trigger, or the market's)."""
    price = order.price or order.trigger_price or quote.last_price
    return order_margin(order.instrument, order.transaction_type, order.product, order.pending_quantity, price)


def utilised(account: Account, segment: str, quote_of: QuoteOf, exclude: SimOrder | None = None) -> Utilised:
    """The segment's (equity or commodity) use of funds: positions, then working orders but `exclude`."""
    used = Utilised()
    for position in account.positions.values():
        instrument = position.instrument
        if (instrument.exchange == "MCX") != (segment == "commodity"):
            continue
        quote = quote_of(instrument)
        figures = position.figures(quote, day_only=False)
        realised, unrealised = Decimal(str(figures["realised"])), Decimal(str(figures["unrealised"]))
        if position.product in ("CNC", "MTF"):
            used.delivery += max(position.day_buy_value - position.day_sell_value, Decimal(0))
            continue
        used.m2m_realised -= realised
        used.m2m_unrealised -= unrealised
        quantity = figures["quantity"]
        if quantity:
            side = "BUY" if quantity > 0 else "SELL"
            margin = order_margin(instrument, side, position.product, abs(quantity), quote.last_price)
            used.span += margin.span
            used.exposure += margin.exposure
            used.var += margin.var
            if side == "BUY" and instrument.instrument_type in ("CE", "PE"):
                used.option_premium += Decimal(str(figures["buy_value"]))
    for order in account.orders.values():
        if order is exclude or order.is_final or (order.instrument.exchange == "MCX") != (segment == "commodity"):
            continue
        margin = margin_of(order, quote_of(order.instrument))
        used.span += margin.span
        used.exposure += margin.exposure
        used.option_premium += margin.option_premium
        used.var += margin.var
    return used


def available_margin(account: Account, segment: str, quote_of: QuoteOf, exclude: SimOrder | None = None) -> Decimal:
    balance = account.commodity_balance if segment == "commodity" else account.opening_balance
    return balance - utilised(account, segment, quote_of, exclude).debits


def rejection(account: Account, order: SimOrder, quote_of: QuoteOf) -> str | None:
    """Why the RMS rejects an accepted order, or None."""
    instrument = order.instrument
    quote = quote_of(instrument)
    if order.order_type in ("LIMIT", "SL") and quote.upper_circuit:
        if order.price > quote.upper_circuit:
            return (f"Your order price is higher than the current upper circuit limit of {quote.upper_circuit}. "
                    "Place an order within the daily range.")  # fmt: skip
        if order.price < quote.lower_circuit:
            return (f"Your order price is lower than the current lower circuit limit of {quote.lower_circuit}. "
                    "Place an order within the daily range.")  # fmt: skip
    if instrument.instrument_type == "EQ" and order.product in ("CNC", "MTF") and order.transaction_type == "SELL":
        holding = account.holdings.get(instrument.instrument_token)
        bought_today = account.position(instrument, order.product).day_quantity
        pending_sells = sum(
            o.pending_quantity
            for o in account.orders.values()
            if o is not order and not o.is_final and o.instrument is instrument and o.product == order.product
            and o.transaction_type == "SELL"
        )  # fmt: skip
        available = (holding.sellable if holding else 0) + max(bought_today, 0) - pending_sells
        if order.quantity > available:
            return (f"Insufficient holdings: {available} of {instrument.tradingsymbol} available to sell, "
                    f"order quantity {order.quantity}.")  # fmt: skip
        return None
    segment = "commodity" if instrument.exchange == "MCX" else "equity"
    required = margin_of(order, quote).total
    free = available_margin(account, segment, quote_of, exclude=order)
    if required > free:
        return f"Insufficient funds. Required margin is {required:.2f} but available margin is {free:.2f}."
    return None

"""An account rendered as Kite's JSON: orders, order history, trades, positions, holdings, margins."""

from __future__ import annotations

from datetime import date
from typing import Any

from kite_simulator.engine.accounts import Account
from kite_simulator.engine.rms import QuoteOf, utilised
from kite_simulator.errors import input_error
from kite_simulator.portfolio import segment_funds
from kite_wire import IST


def orders(account: Account) -> list[dict[str, Any]]:
    return [o.to_json() for o in account.orders.values()]


def order_history(account: Account, order_id: str) -> list[dict[str, Any]]:
    order = account.orders.get(order_id)
    if order is None:
        raise input_error(f"Invalid `order_id`: {order_id} is not an order of this account.")
    return list(order.history)


def trades(account: Account, order_id: str | None = None, day: date | None = None) -> list[dict[str, Any]]:
    """The account's trades, of one order or (`day`) of one IST day."""
    if order_id is not None and order_id not in account.orders:
        raise input_error(f"Invalid `order_id`: {order_id} is not an order of this account.")
    return [
        t.to_json()
        for t in account.trades
        if (order_id is None or t.order.order_id == order_id) and (day is None or t.at.astimezone(IST).date() == day)
    ]


def positions(account: Account, quote_of: QuoteOf) -> dict[str, list[dict[str, Any]]]:
    net, day = [], []
    for position in account.positions.values():
        quote = quote_of(position.instrument)
        if position.overnight_quantity or position.day_buy_quantity or position.day_sell_quantity:
            net.append(position.figures(quote, day_only=False))
        if position.day_buy_quantity or position.day_sell_quantity:
            day.append(position.figures(quote, day_only=True))
    return {"net": net, "day": day}


def holdings(account: Account, quote_of: QuoteOf) -> list[dict[str, Any]]:
    return [h.figures(quote_of(h.instrument)) for h in account.holdings.values()]


def margins(account: Account, quote_of: QuoteOf, segment: str | None = None) -> dict[str, Any]:
    out = {
        "equity": segment_funds(True, account.opening_balance, utilised(account, "equity", quote_of)),
        "commodity": segment_funds(True, account.commodity_balance, utilised(account, "commodity", quote_of)),
    }
    return out if segment is None else out[segment]

"""A strategy's own positions from the orders its signals placed: per account and instrument, the
net filled quantity, its average price and the realised P&L of what it closed (average cost: a fill
that reduces the position realises against the average; one that flips it opens the rest at its
own price). The automatic exits' strategy scope (kite_gateway/core/risk/exits.py) marks these to
market with live prices; the strategy's day budget counts their P&L."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from kite_gateway.core.risk import StrategyPosition

ZERO = Decimal(0)


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def strategy_positions(
    account_id: str, rows: Iterable[Mapping[str, Any]], order_ids: frozenset[str]
) -> list[StrategyPosition]:
    """The positions `order_ids`' fills make on one account, from Kite's order rows (their
    `filled_quantity` at `average_price`), in the order of the rows (Kite lists them oldest first)."""
    held: dict[int, tuple[int, Decimal, Decimal]] = {}  # token -> (quantity, average price, realised)
    for row in rows:
        if str(row.get("order_id")) not in order_ids:
            continue
        filled = int(row.get("filled_quantity") or 0)
        if not filled:
            continue
        token = int(row.get("instrument_token") or 0)
        signed = filled if row.get("transaction_type") == "BUY" else -filled
        price = _decimal(row.get("average_price"))
        quantity, average, realised = held.get(token, (0, ZERO, ZERO))
        if quantity == 0 or (quantity > 0) == (signed > 0):  # opening or adding
            total = quantity + signed
            average = (average * abs(quantity) + price * abs(signed)) / abs(total)
            quantity = total
        else:  # reducing, closing or flipping
            closed = min(abs(signed), abs(quantity))
            realised += (price - average) * closed * (1 if quantity > 0 else -1)
            quantity += signed
            if quantity == 0:
                average = ZERO
            elif (quantity > 0) == (signed > 0):  # flipped: the rest opened at this fill's price
                average = price
        held[token] = (quantity, average, realised)
    return [
        StrategyPosition(account_id, token, quantity, average, realised)
        for token, (quantity, average, realised) in sorted(held.items())
    ]

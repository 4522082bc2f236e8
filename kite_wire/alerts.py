"""Kite's alert conditions as pure code, so the simulator (which evaluates them) and the gateway
(which sends them) agree on the operators, attributes, types and statuses Kite accepts, and on the
condition text Kite writes into an alert's history."""

from __future__ import annotations

import operator as op
from collections.abc import Callable
from decimal import Decimal

ALERT_SIMPLE, ALERT_ATO = "simple", "ato"  # alert types: notify only, or place a basket on triggering
ALERT_TYPES = frozenset({ALERT_SIMPLE, ALERT_ATO})
ALERT_ENABLED, ALERT_DISABLED, ALERT_DELETED = "enabled", "disabled", "deleted"
ALERT_STATUSES = frozenset({ALERT_ENABLED, ALERT_DISABLED, ALERT_DELETED})
RHS_CONSTANT, RHS_INSTRUMENT = "constant", "instrument"  # what the right-hand side is
RHS_TYPES = frozenset({RHS_CONSTANT, RHS_INSTRUMENT})
LAST_TRADED_PRICE = "LastTradedPrice"  # the one attribute Kite's docs name
ATTRIBUTES = frozenset({LAST_TRADED_PRICE})
ALERT_EXCHANGES = frozenset({"NSE", "BSE", "NFO", "CDS", "BCD", "MCX", "INDICES"})

OPERATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<=": op.le,
    ">=": op.ge,
    "<": op.lt,
    ">": op.gt,
    "==": op.eq,
}


def alert_holds(operator: str, lhs: Decimal, rhs: Decimal) -> bool:
    """Whether `lhs operator rhs` is true (KeyError for an operator Kite does not have)."""
    return OPERATORS[operator](lhs, rhs)


def alert_condition_text(attribute: str, exchange: str, tradingsymbol: str, operator: str, rhs: str) -> str:
    """The condition as Kite's history shows it: `LastTradedPrice("NSE:INFY") <= 1400.5`."""
    return f'{attribute}("{exchange}:{tradingsymbol}") {operator} {rhs}'

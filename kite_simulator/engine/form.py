"""Order form fields as Kite reads them (form bodies and query strings): required text, a choice
among Kite's words, integers and decimals, the instrument; each bad field an InputException."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from kite_simulator.errors import input_error
from kite_simulator.universe import SimInstrument, Universe


def text(form: Mapping[str, str], name: str, required: bool = True) -> str:
    value = (form.get(name) or "").strip()
    if required and not value:
        raise input_error(f"Missing or empty field `{name}`.")
    return value


def choice(form: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = text(form, name, required=default is None) or (default or "")
    if value not in allowed:
        raise input_error(f"Invalid `{name}`.")
    return value


def integer(form: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = text(form, name, required=default is None)
    if not raw:
        return default or 0
    try:
        return int(Decimal(raw))
    except (InvalidOperation, ValueError):
        raise input_error(f"Invalid `{name}`.") from None


def decimal(form: Mapping[str, str], name: str) -> Decimal:
    """A non-negative finite decimal (0 when absent); only `market_protection` may be negative (-1)."""
    raw = text(form, name, required=False)
    if not raw:
        return Decimal(0)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise input_error(f"Invalid `{name}`.") from None
    if not value.is_finite() or (value < 0 and name != "market_protection"):
        raise input_error(f"Invalid `{name}`.")
    return value


def instrument(universe: Universe, form: Mapping[str, str]) -> SimInstrument:
    """The tradable instrument `exchange` and `tradingsymbol` name."""
    exchange = text(form, "exchange")
    symbol = text(form, "tradingsymbol")
    found = universe.by_symbol.get(f"{exchange}:{symbol}")
    if found is None:
        raise input_error(f"Invalid `tradingsymbol` or `exchange`: {exchange}:{symbol} is not listed.")
    if not found.tradable:
        raise input_error(f"{exchange}:{symbol} is an index and cannot be traded.")
    return found

"""Kite rows for the exits' tests: positions and margins as Kite reports them, with only what counts set."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from typing import Any

from kite_gateway.kite.portfolio import (
    AvailableMargins,
    Margins,
    PositionRow,
    SegmentMargins,
    UtilisedMargins,
)


def row(token: int, quantity: int, pnl: str, last: str, multiplier: str = "1", symbol: str = "") -> PositionRow:
    values: dict[str, Any] = {f.name: Decimal(0) if f.type == "Decimal" else 0 for f in fields(PositionRow)}
    name = symbol or f"NSE:T{token}"
    exchange, tradingsymbol = name.split(":")
    values.update(exchange=exchange, tradingsymbol=tradingsymbol, symbol=name, product="MIS", quantity=quantity,
                  instrument_token=token, pnl=Decimal(pnl), m2m=Decimal(pnl), unrealised=Decimal(pnl),
                  last_price=Decimal(last), multiplier=Decimal(multiplier))  # fmt: skip
    return PositionRow(**values)


def segment(net: str, debits: str, enabled: bool = True) -> SegmentMargins:
    available = AvailableMargins(*(Decimal(0) for _ in fields(AvailableMargins)))
    used: dict[str, Decimal] = {f.name: Decimal(0) for f in fields(UtilisedMargins)}
    used["debits"] = Decimal(debits)
    return SegmentMargins(enabled, Decimal(net), available, UtilisedMargins(**used))


def margins(net: str, debits: str, commodity: tuple[str, str] | None = None) -> Margins:
    other = segment(*commodity) if commodity else segment("0", "0", enabled=False)
    return Margins(segment(net, debits), other)

"""One user's trading state: orders, trades, positions, holdings and funds."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kite_simulator.orders import SimOrder, SimTrade
from kite_simulator.portfolio import Holding, Position
from kite_simulator.sessions import User
from kite_simulator.universe import SimInstrument


@dataclass
class Account:
    """One user's trading state."""

    user: User
    opening_balance: Decimal
    commodity_balance: Decimal
    orders: dict[str, SimOrder] = field(default_factory=dict)
    trades: list[SimTrade] = field(default_factory=list)
    positions: dict[tuple[int, str], Position] = field(default_factory=dict)
    holdings: dict[int, Holding] = field(default_factory=dict)

    def position(self, instrument: SimInstrument, product: str) -> Position:
        key = (instrument.instrument_token, product)
        if key not in self.positions:
            self.positions[key] = Position(instrument, product)
        return self.positions[key]

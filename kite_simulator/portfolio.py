"""Positions, holdings and funds of a simulated account, with Kite's P&L arithmetic.

Everything shown is derived from the fills (and the opening state) at the moment it is asked
for, so positions, holdings, margins and trades can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kite_simulator.market import LiveQuote
from kite_simulator.universe import SimInstrument
from kite_wire import kite_number

ZERO = Decimal(0)


def _ratio(value: Decimal, quantity: int, multiplier: int) -> Decimal:
    if not quantity:
        return ZERO
    return (value / (quantity * multiplier)).quantize(Decimal("0.0001")).normalize()


@dataclass
class Position:
    """One instrument in one product: the overnight carry plus today's buys and sells."""

    instrument: SimInstrument
    product: str
    overnight_quantity: int = 0
    overnight_price: Decimal = ZERO
    day_buy_quantity: int = 0
    day_buy_value: Decimal = ZERO
    day_sell_quantity: int = 0
    day_sell_value: Decimal = ZERO

    def add_fill(self, transaction_type: str, quantity: int, price: Decimal) -> None:
        value = price * quantity * self.instrument.multiplier
        if transaction_type == "BUY":
            self.day_buy_quantity += quantity
            self.day_buy_value += value
        else:
            self.day_sell_quantity += quantity
            self.day_sell_value += value

    def move(self, transaction_type: str, quantity: int, to: Position) -> None:
        """Move `quantity` of today's buys (or sells) to another product, at their average price."""
        if transaction_type == "BUY":
            value = self.day_buy_value * quantity / self.day_buy_quantity
            self.day_buy_quantity -= quantity
            self.day_buy_value -= value
            to.day_buy_quantity += quantity
            to.day_buy_value += value
        else:
            value = self.day_sell_value * quantity / self.day_sell_quantity
            self.day_sell_quantity -= quantity
            self.day_sell_value -= value
            to.day_sell_quantity += quantity
            to.day_sell_value += value

    @property
    def quantity(self) -> int:
        return self.overnight_quantity + self.day_buy_quantity - self.day_sell_quantity

    @property
    def day_quantity(self) -> int:
        return self.day_buy_quantity - self.day_sell_quantity

    def figures(self, quote: LiveQuote, day_only: bool) -> dict[str, Any]:
        """The position row of `/portfolio/positions` (net, or day when day_only)."""
        m = self.instrument.multiplier
        overnight = 0 if day_only else self.overnight_quantity
        carry_value = abs(overnight) * self.overnight_price * m
        carry_m2m = abs(overnight) * quote.close * m
        buy_quantity = self.day_buy_quantity + max(overnight, 0)
        sell_quantity = self.day_sell_quantity + max(-overnight, 0)
        buy_value = self.day_buy_value + (carry_value if overnight > 0 else ZERO)
        sell_value = self.day_sell_value + (carry_value if overnight < 0 else ZERO)
        buy_m2m = self.day_buy_value + (carry_m2m if overnight > 0 else ZERO)
        sell_m2m = self.day_sell_value + (carry_m2m if overnight < 0 else ZERO)
        quantity = buy_quantity - sell_quantity
        buy_price = _ratio(buy_value, buy_quantity, m)
        sell_price = _ratio(sell_value, sell_quantity, m)
        value = sell_value - buy_value
        pnl = value + quantity * quote.last_price * m
        m2m = (sell_m2m - buy_m2m) + quantity * quote.last_price * m
        closed = min(buy_quantity, sell_quantity)
        realised = closed * (sell_price - buy_price) * m
        average = buy_price if quantity > 0 else sell_price if quantity < 0 else ZERO
        return {
            "tradingsymbol": self.instrument.tradingsymbol,
            "exchange": self.instrument.exchange,
            "instrument_token": self.instrument.instrument_token,
            "product": self.product,
            "quantity": quantity,
            "overnight_quantity": overnight,
            "multiplier": m,
            "average_price": kite_number(average),
            "close_price": kite_number(quote.close),
            "last_price": kite_number(quote.last_price),
            "value": kite_number(value),
            "pnl": kite_number(pnl),
            "m2m": kite_number(m2m),
            "unrealised": kite_number(pnl - realised),
            "realised": kite_number(realised),
            "buy_quantity": buy_quantity,
            "buy_price": kite_number(buy_price),
            "buy_value": kite_number(buy_value),
            "buy_m2m": kite_number(buy_m2m),
            "sell_quantity": sell_quantity,
            "sell_price": kite_number(sell_price),
            "sell_value": kite_number(sell_value),
            "sell_m2m": kite_number(sell_m2m),
            "day_buy_quantity": self.day_buy_quantity,
            "day_buy_price": kite_number(_ratio(self.day_buy_value, self.day_buy_quantity, m)),
            "day_buy_value": kite_number(self.day_buy_value),
            "day_sell_quantity": self.day_sell_quantity,
            "day_sell_price": kite_number(_ratio(self.day_sell_value, self.day_sell_quantity, m)),
            "day_sell_value": kite_number(self.day_sell_value),
        }


@dataclass
class Holding:
    """A delivery holding (settled quantity at the start of the day)."""

    instrument: SimInstrument
    quantity: int
    average_price: Decimal
    t1_quantity: int = 0
    used_quantity: int = 0
    collateral_quantity: int = 0

    @property
    def sellable(self) -> int:
        return self.quantity + self.t1_quantity - self.used_quantity

    def figures(self, quote: LiveQuote) -> dict[str, Any]:
        held = self.quantity + self.t1_quantity
        pnl = (quote.last_price - self.average_price) * held
        change = quote.last_price - quote.close
        percent = (change * 100 / quote.close) if quote.close else ZERO
        return {
            "tradingsymbol": self.instrument.tradingsymbol,
            "exchange": self.instrument.exchange,
            "instrument_token": self.instrument.instrument_token,
            "isin": self.instrument.isin,
            "product": "CNC",
            "price": 0,
            "quantity": self.quantity,
            "used_quantity": self.used_quantity,
            "t1_quantity": self.t1_quantity,
            "realised_quantity": self.quantity,
            "authorised_quantity": 0,
            "authorised_date": "",
            "authorisation": {},
            "opening_quantity": self.quantity,
            "short_quantity": 0,
            "collateral_quantity": self.collateral_quantity,
            "collateral_type": "",
            "discrepancy": False,
            "average_price": kite_number(self.average_price),
            "last_price": kite_number(quote.last_price),
            "close_price": kite_number(quote.close),
            "pnl": kite_number(pnl),
            "day_change": kite_number(change),
            "day_change_percentage": float(percent),
            "mtf": {"quantity": 0, "used_quantity": 0, "average_price": 0, "value": 0, "initial_margin": 0},
        }


@dataclass
class Utilised:
    """What a segment's funds are used for (Kite's `utilised` block)."""

    span: Decimal = ZERO
    exposure: Decimal = ZERO
    option_premium: Decimal = ZERO
    delivery: Decimal = ZERO
    holding_sales: Decimal = ZERO
    m2m_realised: Decimal = ZERO
    m2m_unrealised: Decimal = ZERO
    var: Decimal = ZERO

    @property
    def debits(self) -> Decimal:
        return (
            self.span + self.exposure + self.option_premium + self.delivery + self.var
            + self.m2m_realised + self.m2m_unrealised
        )  # fmt: skip


def segment_funds(enabled: bool, opening_balance: Decimal, used: Utilised) -> dict[str, Any]:
    """One segment of `/user/margins`."""
    net = opening_balance - used.debits
    return {
        "enabled": enabled,
        "net": kite_number(net),
        "available": {
            "adhoc_margin": 0,
            "cash": kite_number(opening_balance),
            "opening_balance": kite_number(opening_balance),
            "live_balance": kite_number(net),
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {
            "debits": kite_number(used.debits),
            "exposure": kite_number(used.exposure),
            "m2m_realised": kite_number(used.m2m_realised),
            "m2m_unrealised": kite_number(used.m2m_unrealised),
            "option_premium": kite_number(used.option_premium),
            "payout": 0,
            "span": kite_number(used.span),
            "holding_sales": kite_number(used.holding_sales),
            "turnover": 0,
            "liquid_collateral": 0,
            "stock_collateral": 0,
            "delivery": kite_number(used.delivery + used.var),
        },
    }

"""Mark-to-market P&L: an account's positions (as Kite last reported them) and a strategy's (net
quantities and average prices from its orders) revalued at live prices, and the margin
utilisation of an account from Kite's margins. Decimal throughout.

An account's day P&L is Kite's convention, as GetPositions totals it
(kite_gateway/core/portfolio/positions.py): the sum of `pnl` (realised + unrealised) over the net
positions. A live price moves a row's pnl, m2m and unrealised by quantity x (price - the price Kite
valued it at) x multiplier, which is what Kite would report at that price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from kite_gateway.core.portfolio import PositionsView, positions_view
from kite_gateway.kite import Margins, PositionRow, Positions

ZERO = Decimal(0)
ONE = Decimal(1)


def mark(row: PositionRow, last_price: Decimal) -> PositionRow:
    """The row as Kite would report it at `last_price`."""
    if last_price == row.last_price:
        return row
    change = row.quantity * (last_price - row.last_price) * (row.multiplier or ONE)
    return replace(
        row,
        last_price=last_price,
        pnl=row.pnl + change,
        m2m=row.m2m + change,
        unrealised=row.unrealised + change,
    )


class AccountPnl:
    """One account's net positions marked to the newest price of each instrument."""

    def __init__(self, account_id: str, positions: Positions | None = None) -> None:
        self.account_id = account_id
        self.rows: list[PositionRow] = []
        self.prices: dict[int, Decimal] = {}  # instrument_token -> the newest live price
        if positions is not None:
            self.reset(positions)

    def reset(self, positions: Positions) -> None:
        """Positions read anew from Kite (after a fill); live prices already seen are kept."""
        self.rows = list(positions.net)

    def open_tokens(self) -> set[int]:
        return {row.instrument_token for row in self.rows if row.quantity}

    def update(self, prices: Mapping[int, Decimal]) -> bool:
        """Take live prices; whether any of them changed the P&L."""
        held = {row.instrument_token for row in self.rows if row.quantity}
        changed = False
        for token, price in prices.items():
            if self.prices.get(token) != price:
                self.prices[token] = price
                changed = changed or token in held
        return changed

    def price(self, token: int) -> Decimal | None:
        if token in self.prices:
            return self.prices[token]
        return next((row.last_price for row in self.rows if row.instrument_token == token), None)

    def view(self) -> PositionsView:
        marked = [mark(row, self.prices.get(row.instrument_token, row.last_price)) for row in self.rows]
        return positions_view(Positions(marked, []))

    @property
    def pnl(self) -> Decimal:
        return self.view().total_pnl


@dataclass(frozen=True, slots=True)
class StrategyPosition:
    """A strategy's net position in one instrument on one account, from its own orders (the
    signals' port): realised P&L of what it closed, and the open quantity at its average price."""

    account_id: str
    instrument_token: int
    quantity: int
    average_price: Decimal
    realised: Decimal = ZERO
    multiplier: Decimal = ONE


def strategy_pnl(positions: Iterable[StrategyPosition], books: Mapping[str, AccountPnl]) -> Decimal:
    """Realised plus open quantity x (live price - average price) x multiplier, summed; an instrument
    with no price known yet counts at its average price (no unrealised P&L)."""
    total = ZERO
    for position in positions:
        book = books.get(position.account_id)
        price = book.price(position.instrument_token) if book is not None else None
        if price is None:
            price = position.average_price
        total += position.realised + position.quantity * (price - position.average_price) * position.multiplier
    return total


@dataclass(frozen=True, slots=True)
class Utilisation:
    """Kite's margins in use against the total, over the enabled segments (`used / total`)."""

    used: Decimal
    total: Decimal

    @property
    def ratio(self) -> Decimal:
        if self.total > 0:
            return self.used / self.total
        return ONE if self.used > 0 else ZERO


def utilisation(margins: Margins) -> Utilisation:
    """Used: the segments' utilised debits; total: what they had (net, Kite's available after the
    debits, plus the debits)."""
    used = total = ZERO
    for segment in (margins.equity, margins.commodity):
        if not segment.enabled:
            continue
        used += segment.utilised.debits
        total += segment.net + segment.utilised.debits
    return Utilisation(used, total)

"""Matching fills into lots, first in first out, as the P&L and tax reports need them.

A position is a queue of open lots per account and instrument. A fill against the position's
direction closes the oldest lots first (FIFO, CBDT circular 768); what is left of it opens a lot of
its own, so a fill that flips a position is split. Cash-market equity is one position per account
and symbol whatever the exchange (NSE and BSE shares sit in one demat account), and on each day
that day's buys and sells are matched with each other first: that part is intraday (speculative
for tax, and a CNC round trip within the day is intraday too), and only the day's net touches the
delivery lots carried from earlier days. Derivatives are matched FIFO in the order of their fills.

Equity is never held short across days (a delivery sell needs the shares in the demat), so a day's
net delivery sell that finds no recorded buys is a sale of holdings from before the fill log: it goes to
`Book.unmatched` (cost unknown), not into the queue where a later day's buy would "close" it."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import groupby

from kite_gateway.core.reports.model import Fill, Segment, Side

DELIVERY_PRODUCTS = frozenset({"CNC", "MTF"})  # a sell of these needs the shares in the demat account


@dataclass(frozen=True, slots=True)
class ClosedLot:
    """`quantity` units opened by one fill and closed by another."""

    opened: Fill
    closed: Fill
    quantity: int
    intraday: bool  # matched within one trading day (equity: the day's buys against its sells)

    @property
    def long(self) -> bool:
        return self.opened.side is Side.BUY

    @property
    def buy(self) -> Fill:
        return self.opened if self.long else self.closed

    @property
    def sell(self) -> Fill:
        return self.closed if self.long else self.opened

    @property
    def buy_value(self) -> Decimal:
        return self.buy.price * self.quantity * self.buy.multiplier

    @property
    def sell_value(self) -> Decimal:
        return self.sell.price * self.quantity * self.sell.multiplier

    @property
    def pnl(self) -> Decimal:
        """Gross realised P&L: sell value less buy value."""
        return self.sell_value - self.buy_value

    @property
    def opened_on(self) -> date:
        return self.opened.trade_date

    @property
    def closed_on(self) -> date:
        return self.closed.trade_date


@dataclass(frozen=True, slots=True)
class OpenLot:
    """`quantity` units of `fill` not closed yet (short when the fill was a sell)."""

    fill: Fill
    quantity: int

    @property
    def long(self) -> bool:
        return self.fill.side is Side.BUY

    @property
    def cost(self) -> Decimal:
        return self.fill.price * self.quantity * self.fill.multiplier


@dataclass(frozen=True, slots=True)
class Book:
    closed: tuple[ClosedLot, ...]
    open: tuple[OpenLot, ...]
    unmatched: tuple[OpenLot, ...] = ()  # equity sold beyond its recorded buys (bought before the log)


def position_key(fill: Fill) -> tuple[str, str, str]:
    """Which position a fill belongs to: equity by symbol across exchanges, derivatives by contract."""
    if fill.segment is Segment.EQUITY:
        return (fill.account_id, "EQ", fill.tradingsymbol)
    return (fill.account_id, fill.exchange, fill.tradingsymbol)


class _Queue:
    """One position's open lots, oldest first, all in one direction."""

    def __init__(self) -> None:
        self.lots: deque[list[object]] = deque()  # [fill, remaining quantity]

    def take(self, fill: Fill, quantity: int, intraday: bool, closed: list[ClosedLot]) -> int:
        """Close up to `quantity` of the open lots against `fill`; returns what is left of it."""
        while quantity and self.lots and self._opposite(fill):
            lot = self.lots[0]
            opened, remaining = lot[0], lot[1]
            assert isinstance(opened, Fill) and isinstance(remaining, int)
            used = min(remaining, quantity)
            closed.append(ClosedLot(opened, fill, used, intraday or opened.trade_date == fill.trade_date))
            quantity -= used
            if used == remaining:
                self.lots.popleft()
            else:
                lot[1] = remaining - used
        return quantity

    def add(self, fill: Fill, quantity: int) -> None:
        if quantity:
            self.lots.append([fill, quantity])

    def _opposite(self, fill: Fill) -> bool:
        first = self.lots[0][0]
        assert isinstance(first, Fill)
        return first.side is not fill.side

    def open_lots(self) -> list[OpenLot]:
        return [OpenLot(lot[0], lot[1]) for lot in self.lots]  # type: ignore[arg-type]


def _chronological(fills: Iterable[Fill]) -> list[Fill]:
    """Oldest first; ties broken by every field of a fill's identity (NSE and BSE number trades
    independently), so the book does not depend on the order the fills were read in."""
    return sorted(fills, key=lambda f: (f.filled_at, f.trade_id, f.exchange, f.order_id, f.account_id))


def _match_day_first(fills: list[Fill], queue: _Queue, closed: list[ClosedLot], unmatched: list[OpenLot]) -> None:
    """Equity: each day's buys against its sells first (intraday), the day's rest against the queue;
    what is left of a net sell had no recorded buy."""
    for _, day in groupby(fills, key=lambda f: f.trade_date):
        intraday = _Queue()
        for fill in day:
            intraday.add(fill, intraday.take(fill, fill.quantity, True, closed))
        for lot in intraday.open_lots():  # the day's net, oldest first, meets the lots carried in
            left = queue.take(lot.fill, lot.quantity, False, closed)
            if left and lot.fill.side is Side.SELL and lot.fill.product in DELIVERY_PRODUCTS:
                unmatched.append(OpenLot(lot.fill, left))
            else:  # a buy, or an intraday (MIS) short still open: its square-off closes it
                queue.add(lot.fill, left)


def _match_fifo(fills: list[Fill], queue: _Queue, closed: list[ClosedLot]) -> None:
    for fill in fills:
        queue.add(fill, queue.take(fill, fill.quantity, False, closed))


def match(fills: Iterable[Fill]) -> Book:
    """Every fill matched into closed lots (in the order they closed) and the open lots left."""
    positions: dict[tuple[str, str, str], list[Fill]] = defaultdict(list)
    for fill in _chronological(fills):
        positions[position_key(fill)].append(fill)
    closed: list[ClosedLot] = []
    still_open: list[OpenLot] = []
    unmatched: list[OpenLot] = []
    for key in sorted(positions):
        queue = _Queue()
        series = positions[key]
        if series[0].segment is Segment.EQUITY:
            _match_day_first(series, queue, closed, unmatched)
        else:
            _match_fifo(series, queue, closed)
        still_open.extend(queue.open_lots())
    closed.sort(key=lambda lot: (lot.closed.filled_at, lot.closed.trade_id, lot.closed.exchange, lot.opened.filled_at))
    return Book(tuple(closed), tuple(still_open), tuple(unmatched))

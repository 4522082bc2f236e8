"""The P&L statement over a date range: FIFO lots of every fill up to the range's end (so positions
carried in from earlier days close against their own cost), realised on the lots closed within the
range, unrealised on the lots open at its end marked at a price the caller supplies, and the
charges of the orders filled within the range; per instrument, per segment, per day (the equity
curve) and per account, and consolidated over the accounts.

A cash-equity sell that closes nothing the log knows of (shares bought before the log began, or
while it had a gap) is left out of realised and unrealised P&L and counted as unmatched: its cost
is not known, and guessing it would make the statement wrong without saying so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from kite_gateway.core.reports.lots import Book, ClosedLot, OpenLot, match, position_key
from kite_gateway.core.reports.model import NO_CHARGES, ZERO, Charges, ChargeSource, Fill, OrderCharges, Segment


def line_key(fill: Fill) -> str:
    """An instrument line's key: `EQ:SYMBOL` for cash equity (NSE and BSE are one holding), else
    `EXCHANGE:SYMBOL`."""
    _, venue, symbol = position_key(fill)
    return f"{venue}:{symbol}"


def mark_symbols(key: str) -> tuple[str, ...]:
    """The `EXCHANGE:SYMBOL`s whose price marks a line (cash equity: NSE's, else BSE's)."""
    venue, _, symbol = key.partition(":")
    return (f"NSE:{symbol}", f"BSE:{symbol}") if venue == "EQ" else (key,)


@dataclass(slots=True)
class PnlLine:
    key: str
    segment: Segment | None = None
    realised: Decimal = ZERO
    unrealised: Decimal = ZERO
    charges: Charges = NO_CHARGES
    buy_value: Decimal = ZERO
    sell_value: Decimal = ZERO
    open_quantity: int = 0
    mark_price: Decimal | None = None

    @property
    def gross(self) -> Decimal:
        return self.realised + self.unrealised

    @property
    def net(self) -> Decimal:
        return self.gross - self.charges.total

    def add(self, other: PnlLine) -> None:
        self.realised += other.realised
        self.unrealised += other.unrealised
        self.charges = self.charges + other.charges
        self.buy_value += other.buy_value
        self.sell_value += other.sell_value
        self.open_quantity += other.open_quantity


@dataclass(frozen=True, slots=True)
class DayPnl:
    day: date
    realised: Decimal
    charges: Decimal
    cumulative_net: Decimal

    @property
    def net(self) -> Decimal:
        return self.realised - self.charges


@dataclass(frozen=True, slots=True)
class AccountPnl:
    account_id: str  # "" when consolidated
    total: PnlLine
    by_instrument: tuple[PnlLine, ...]
    by_segment: tuple[PnlLine, ...]
    by_day: tuple[DayPnl, ...]


@dataclass(frozen=True, slots=True)
class PnlStatement:
    start: date
    end: date
    accounts: tuple[AccountPnl, ...]
    consolidated: AccountPnl
    estimated_charge_orders: int
    unmatched_sell_quantity: int
    unmatched: tuple[OpenLot, ...] = field(default=())


def pnl_statement(
    fills: Iterable[Fill],
    charges: Mapping[str, OrderCharges],
    start: date,
    end: date,
    marks: Mapping[str, Decimal],
    extra_charges: Mapping[tuple[str, str, date], Charges] | None = None,
    book: Book | None = None,
) -> PnlStatement:
    """`fills`: the accounts' fills up to `end` (earlier ones too: they open the lots carried in);
    `charges`: orders' charges by order id; `marks`: prices by `EXCHANGE:SYMBOL` for open lots;
    `extra_charges`: charges not on an order's note (DP charges) by (account, line key, day);
    `book`: the fills up to `end` matched already (open_lots)."""
    upto = [f for f in fills if f.trade_date <= end]
    book = book if book is not None else match(upto)
    accounts = sorted({f.account_id for f in upto})
    in_range = [f for f in upto if start <= f.trade_date]
    order_lines = {f.order_id: (f.account_id, line_key(f), f.segment, f.trade_date) for f in in_range}
    per_account = [
        _account(
            account_id,
            [lot for lot in book.closed if lot.opened.account_id == account_id and start <= lot.closed_on],
            [lot for lot in book.open if lot.fill.account_id == account_id],
            [f for f in in_range if f.account_id == account_id],
            {o: c for o, c in charges.items() if o in order_lines and order_lines[o][0] == account_id},
            order_lines,
            marks,
            {k: v for k, v in (extra_charges or {}).items() if k[0] == account_id and start <= k[2] <= end},
        )
        for account_id in accounts
    ]
    estimated = sum(1 for o, c in charges.items() if o in order_lines and c.source is ChargeSource.ESTIMATED)
    unmatched = book.unmatched
    return PnlStatement(
        start,
        end,
        tuple(per_account),
        consolidate(per_account),
        estimated,
        sum(lot.quantity for lot in unmatched),
        unmatched,
    )


def _account(
    account_id: str,
    closed: Sequence[ClosedLot],
    still_open: Sequence[OpenLot],
    fills: Sequence[Fill],
    charges: Mapping[str, OrderCharges],
    order_lines: Mapping[str, tuple[str, str, Segment, date]],
    marks: Mapping[str, Decimal],
    extra: Mapping[tuple[str, str, date], Charges],
) -> AccountPnl:
    lines: dict[str, PnlLine] = {}

    def line(key: str, segment: Segment) -> PnlLine:
        return lines.setdefault(key, PnlLine(key, segment))

    day_realised: dict[date, Decimal] = defaultdict(Decimal)
    day_charges: dict[date, Decimal] = defaultdict(Decimal)
    for done in closed:
        line(line_key(done.closed), done.closed.segment).realised += done.pnl
        day_realised[done.closed_on] += done.pnl
    for f in fills:
        entry = line(line_key(f), f.segment)
        if f.side.sign > 0:
            entry.buy_value += f.value
        else:
            entry.sell_value += f.value
    for order_id, charged in charges.items():
        _, key, segment, day = order_lines[order_id]
        entry = line(key, segment)
        entry.charges = entry.charges + charged.charges
        day_charges[charged.trade_date] += charged.charges.total
    for (_, key, day), dp in extra.items():
        entry = lines.get(key) or line(key, Segment.EQUITY)
        entry.charges = entry.charges + dp
        day_charges[day] += dp.total
    for lot in still_open:
        entry = line(line_key(lot.fill), lot.fill.segment)
        signed = lot.quantity if lot.long else -lot.quantity
        entry.open_quantity += signed
        mark = next((marks[s] for s in mark_symbols(entry.key) if s in marks), None)
        if mark is not None:
            entry.mark_price = mark
            entry.unrealised += (mark - lot.fill.price) * signed * lot.fill.multiplier
    by_instrument = tuple(lines[k] for k in sorted(lines))
    return AccountPnl(account_id, _total(account_id, by_instrument), by_instrument, _segments(by_instrument),
                      _days(day_realised, day_charges))  # fmt: skip


def _total(key: str, lines: Iterable[PnlLine]) -> PnlLine:
    total = PnlLine(key)
    for entry in lines:
        total.add(entry)
    return total


def _segments(lines: Iterable[PnlLine]) -> tuple[PnlLine, ...]:
    segments: dict[Segment, PnlLine] = {}
    for entry in lines:
        assert entry.segment is not None
        segments.setdefault(entry.segment, PnlLine(entry.segment.value, entry.segment)).add(entry)
    return tuple(segments[s] for s in Segment if s in segments)


def _days(realised: Mapping[date, Decimal], charges: Mapping[date, Decimal]) -> tuple[DayPnl, ...]:
    running = ZERO
    days = []
    for day in sorted(set(realised) | set(charges)):
        running += realised.get(day, ZERO) - charges.get(day, ZERO)
        days.append(DayPnl(day, realised.get(day, ZERO), charges.get(day, ZERO), running))
    return tuple(days)


def consolidate(accounts: Sequence[AccountPnl]) -> AccountPnl:
    """The accounts' statements added up: instruments by key, segments, days."""
    lines: dict[str, PnlLine] = {}
    realised: dict[date, Decimal] = defaultdict(Decimal)
    charges: dict[date, Decimal] = defaultdict(Decimal)
    for account in accounts:
        for entry in account.by_instrument:
            merged = lines.setdefault(entry.key, PnlLine(entry.key, entry.segment))
            merged.add(entry)
            merged.mark_price = merged.mark_price if merged.mark_price is not None else entry.mark_price
        for day in account.by_day:
            realised[day.day] += day.realised
            charges[day.day] += day.charges
    by_instrument = tuple(lines[k] for k in sorted(lines))
    return AccountPnl("", _total("", by_instrument), by_instrument, _segments(by_instrument), _days(realised, charges))


def open_lots(fills: Iterable[Fill], end: date) -> Book:
    """The fills up to `end`, matched."""
    return match(f for f in fills if f.trade_date <= end)


def open_mark_symbols(book: Book) -> set[str]:
    """The `EXCHANGE:SYMBOL`s to price for a book's open lots."""
    return {mark_symbols(line_key(lot.fill))[0] for lot in book.open}

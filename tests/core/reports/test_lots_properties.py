"""Properties of the lot matcher and the P&L statement over random fill histories (equity CNC and MIS
across NSE and BSE, futures, several days and accounts): every unit bought or sold is accounted for
exactly once (closed, open or unmatched), realised P&L is the closed lots' cash flows, no lot is
empty, the input order of the fills does not matter, and every statement adds up (accounts to the
consolidated total, days to the last cumulative net, segments to the total)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kite_gateway.core.reports import Book, Fill, Side, match
from kite_gateway.core.reports.charges import dp_charges
from kite_gateway.core.reports.lots import position_key
from kite_gateway.core.reports.model import NO_CHARGES, Charges, ChargeSource, OrderCharges
from kite_gateway.core.reports.statements import AccountPnl, pnl_statement
from kite_gateway.core.reports.tax import Bucket, tax_pnl
from kite_wire import IST

FIRST_DAY = date(2026, 11, 23)
ACCOUNTS = ("AB1234", "ZZ9999")
# (exchange, symbol, instrument type, products)
INSTRUMENTS = (
    ("NSE", "INFY", "EQ", ("CNC", "MIS")),
    ("BSE", "INFY", "EQ", ("CNC", "MIS")),
    ("NSE", "SBIN", "EQ", ("CNC", "MIS")),
    ("NFO", "NIFTY26DECFUT", "FUT", ("NRML", "MIS")),
)


@st.composite
def fills(draw: st.DrawFn, max_size: int = 30, first_day: date = FIRST_DAY) -> list[Fill]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ACCOUNTS),
                st.sampled_from(INSTRUMENTS),
                st.integers(0, 1),  # product index
                st.sampled_from(Side),
                st.integers(1, 200),  # quantity
                st.integers(1, 40000),  # price in paise
                st.integers(0, 4),  # day
                st.integers(0, 6 * 60 * 60 - 1),  # second of the session from 09:15
            ),
            max_size=max_size,
        )
    )
    out = []
    for n, (account, (exchange, symbol, kind, products), product, side, quantity, paise, day, second) in enumerate(
        rows
    ):
        moment = datetime.combine(first_day + timedelta(days=day), time(9, 15), IST) + timedelta(seconds=second)
        out.append(
            Fill(
                account,
                f"T{n:04d}",
                f"O{n:04d}",
                exchange,
                symbol,
                hash((exchange, symbol)) & 0xFFFF,
                kind,
                side,
                products[product],
                quantity,
                Decimal(paise) / 100,
                moment,
            )
        )
    return out


def per_position(book: Book) -> dict[tuple[str, str, str], dict[str, int]]:
    units: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for closed in book.closed:
        assert position_key(closed.opened) == position_key(closed.closed)
        assert closed.opened.side is not closed.closed.side
        units[position_key(closed.opened)]["closed"] += closed.quantity
    for lot in book.open:
        units[position_key(lot.fill)]["open_long" if lot.long else "open_short"] += lot.quantity
    for lot in book.unmatched:
        assert lot.fill.side is Side.SELL
        units[position_key(lot.fill)]["unmatched"] += lot.quantity
    return units


@settings(max_examples=300, deadline=None)
@given(fills())
def test_every_unit_bought_or_sold_is_closed_open_or_unmatched_exactly_once(history: list[Fill]) -> None:
    book = match(history)
    units = per_position(book)
    bought: dict[tuple[str, str, str], int] = defaultdict(int)
    sold: dict[tuple[str, str, str], int] = defaultdict(int)
    for f in history:
        (bought if f.side is Side.BUY else sold)[position_key(f)] += f.quantity
    for key in set(bought) | set(sold) | set(units):
        u = units.get(key, {})
        assert bought[key] == u.get("closed", 0) + u.get("open_long", 0), key
        assert sold[key] == u.get("closed", 0) + u.get("open_short", 0) + u.get("unmatched", 0), key
    # Each fill's units are spent once: as the opening or closing side of closed lots, open, or unmatched.
    spent: dict[str, int] = defaultdict(int)
    for closed in book.closed:
        spent[closed.opened.trade_id] += closed.quantity
        spent[closed.closed.trade_id] += closed.quantity
    for lot in book.open + book.unmatched:
        spent[lot.fill.trade_id] += lot.quantity
    assert spent == {f.trade_id: f.quantity for f in history}


@settings(max_examples=300, deadline=None)
@given(fills())
def test_no_lot_is_empty_and_a_position_is_open_in_one_direction_only(history: list[Fill]) -> None:
    book = match(history)
    assert all(lot.quantity > 0 for lot in book.closed)
    assert all(lot.quantity > 0 for lot in book.open + book.unmatched)
    directions: dict[tuple[str, str, str], set[bool]] = defaultdict(set)
    for lot in book.open:
        directions[position_key(lot.fill)].add(lot.long)
    assert all(len(d) == 1 for d in directions.values())


@settings(max_examples=300, deadline=None)
@given(fills())
def test_realised_pnl_is_the_closed_lots_sell_values_less_their_buy_values(history: list[Fill]) -> None:
    book = match(history)
    for lot in book.closed:
        assert lot.pnl == lot.sell_value - lot.buy_value
        assert lot.sell.side is Side.SELL and lot.buy.side is Side.BUY
    # The cash of every fill is the closed lots' both legs plus the open lots' (and unmatched') cost.
    spent = sum((f.price * f.quantity * f.multiplier * -f.side.sign for f in history), Decimal(0))
    realised = sum((lot.pnl for lot in book.closed), Decimal(0))
    held = sum((lot.cost if lot.long else -lot.cost for lot in book.open), Decimal(0))
    sold_unmatched = sum((lot.cost for lot in book.unmatched), Decimal(0))
    assert spent == realised - held + sold_unmatched


@settings(max_examples=200, deadline=None)
@given(fills(), st.randoms(use_true_random=False))
def test_the_book_does_not_depend_on_the_order_the_fills_are_given_in(history: list[Fill], rng: object) -> None:
    shuffled = list(history)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert match(shuffled) == match(history)


def charges_of(history: list[Fill], paise: list[int]) -> dict[str, OrderCharges]:
    return {
        f.order_id: OrderCharges(
            f.account_id,
            f.order_id,
            f.trade_date,
            Charges(brokerage=Decimal(p) / 100),
            ChargeSource.CONTRACT_NOTE,
            f.quantity,
        )
        for f, p in zip(history, paise, strict=False)
    }


def sums(accounts: tuple[AccountPnl, ...]) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int]:
    return (
        sum((a.total.realised for a in accounts), Decimal(0)),
        sum((a.total.unrealised for a in accounts), Decimal(0)),
        sum((a.total.charges for a in accounts), NO_CHARGES).total,
        sum((a.total.buy_value for a in accounts), Decimal(0)),
        sum((a.total.sell_value for a in accounts), Decimal(0)),
        sum(a.total.open_quantity for a in accounts),
    )


def totals(account: AccountPnl) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int]:
    return sums((account,))


@settings(max_examples=200, deadline=None)
@given(fills(), st.lists(st.integers(0, 5000), max_size=30), st.integers(0, 4), st.integers(0, 4),
       st.dictionaries(st.sampled_from(["NSE:INFY", "NSE:SBIN", "BSE:INFY", "NFO:NIFTY26DECFUT"]),
                       st.integers(1, 40000).map(lambda p: Decimal(p) / 100)))  # fmt: skip
def test_a_statement_adds_up_over_accounts_days_and_segments(
    history: list[Fill], paise: list[int], first: int, last: int, marks: dict[str, Decimal]
) -> None:
    start, end = sorted((FIRST_DAY + timedelta(days=first), FIRST_DAY + timedelta(days=last)))
    dp = {(account, f"EQ:{symbol}", day): Charges(dp=amount)
          for (account, day, symbol), amount in dp_charges(history).items()}  # fmt: skip
    statement = pnl_statement(history, charges_of(history, paise), start, end, marks, dp)
    assert totals(statement.consolidated) == sums(statement.accounts)
    for account in (*statement.accounts, statement.consolidated):
        assert totals(account) == sums(tuple(AccountPnl("", line, (), (), ()) for line in account.by_segment))
        assert totals(account) == sums(tuple(AccountPnl("", line, (), (), ()) for line in account.by_instrument))
        net = account.total.realised - account.total.charges.total
        assert (account.by_day[-1].cumulative_net if account.by_day else Decimal(0)) == net
        assert sum((d.realised for d in account.by_day), Decimal(0)) == account.total.realised
        assert all(start <= d.day <= end for d in account.by_day)
        assert sum((d.charges for d in account.by_day), Decimal(0)) == account.total.charges.total
    # Realised is the lots closed within the range, wherever they were opened.
    closed = [lot for lot in match(f for f in history if f.trade_date <= end).closed if start <= lot.closed_on]
    assert statement.consolidated.total.realised == sum((lot.pnl for lot in closed), Decimal(0))


def test_two_exchanges_trades_with_one_trade_id_at_one_moment_match_the_same_whatever_their_order() -> None:
    # NSE and BSE number their trades independently: one id at one moment on both is possible.
    moment = datetime(2026, 11, 24, 10, 0, tzinfo=IST)
    buy = Fill("AB1234", "T1", "O1", "NSE", "INFY", 1, "EQ", Side.BUY, "CNC", 10, Decimal(100), moment)
    sell = Fill("AB1234", "T1", "O2", "BSE", "INFY", 2, "EQ", Side.SELL, "CNC", 10, Decimal(101), moment)
    assert match([buy, sell]) == match([sell, buy])


@settings(max_examples=150, deadline=None)
@given(fills(first_day=date(2026, 3, 29)), st.lists(st.integers(0, 5000), max_size=30))
def test_the_tax_buckets_hold_exactly_the_lots_closed_in_the_financial_year(
    history: list[Fill], paise: list[int]
) -> None:
    # The history spans 29 Mar to 2 Apr 2026: FY 2025-26 ends in it, FY 2026-27 begins.
    book = match(history)
    for year in (2025, 2026):
        report = tax_pnl(history, charges_of(history, paise), year, dp=dp_charges(history))
        closed = [lot for lot in book.closed if report.start <= lot.closed_on <= report.end]
        lots = [lot for bucket in report.buckets.values() for lot in bucket.lots]
        assert len(lots) == len(closed)
        assert sum((b.gross for b in report.buckets.values()), Decimal(0)) == sum((c.pnl for c in closed), Decimal(0))
        assert sum(lot.quantity for lot in lots) == sum(c.quantity for c in closed)
        assert all(report.start <= (lot.buy_date if lot.short else lot.sell_date) <= report.end for lot in lots)
        for bucket, pnl in report.buckets.items():
            assert pnl.net == pnl.gross - pnl.deductible_charges
            assert all(lot.segment.derivative == (bucket is Bucket.NON_SPECULATIVE_BUSINESS) for lot in pnl.lots)
        unmatched = sum(u.quantity for u in report.unmatched)
        assert unmatched == sum(u.quantity for u in book.unmatched if report.start <= u.fill.trade_date <= report.end)

from decimal import Decimal

from kite_gateway.core.reports import match
from tests.core.reports.fills import fill


def test_sells_close_the_oldest_buys_first_across_years() -> None:
    book = match(
        [
            fill("2024-01-10", "BUY", 50, "100"),
            fill("2025-01-10", "BUY", 50, "150"),
            fill("2025-03-10", "SELL", 60, "200"),
        ]
    )
    assert [(lot.quantity, lot.buy.price, lot.pnl) for lot in book.closed] == [
        (50, Decimal(100), Decimal(5000)),
        (10, Decimal(150), Decimal(500)),
    ]
    assert [(lot.quantity, lot.fill.price) for lot in book.open] == [(40, Decimal(150))]
    assert not any(lot.intraday for lot in book.closed)


def test_a_same_day_cnc_round_trip_is_intraday_and_leaves_carried_holdings_alone() -> None:
    book = match(
        [
            fill("2025-06-09", "BUY", 100, "90"),
            fill("2025-06-10 09:20", "BUY", 500, "100"),
            fill("2025-06-10 11:00", "SELL", 500, "105"),
        ]
    )
    assert [(lot.quantity, lot.intraday, lot.buy.price) for lot in book.closed] == [(500, True, Decimal(100))]
    assert [(lot.quantity, lot.fill.price) for lot in book.open] == [(100, Decimal(90))]


def test_the_days_net_sell_closes_delivery_lots_after_the_intraday_part() -> None:
    book = match(
        [
            fill("2025-06-09", "BUY", 100, "90"),
            fill("2025-06-10 09:20", "SELL", 150, "100"),
            fill("2025-06-10 11:00", "BUY", 50, "95"),
        ]
    )
    assert [(lot.quantity, lot.intraday, lot.buy.price, lot.pnl) for lot in book.closed] == [
        (100, False, Decimal(90), Decimal(1000)),  # closed by the 09:20 sell
        (50, True, Decimal(95), Decimal(250)),  # closed by the 11:00 buy
    ]
    assert book.open == ()


def test_nse_and_bse_shares_of_one_symbol_are_one_position() -> None:
    book = match([fill("2025-06-09", "BUY", 10, "90", exchange="BSE"), fill("2025-06-12", "SELL", 10, "99")])
    assert [(lot.quantity, lot.pnl) for lot in book.closed] == [(10, Decimal(90))]


def test_a_fill_that_flips_a_futures_position_closes_it_and_opens_the_rest_short() -> None:
    fut = {"symbol": "NIFTY25JUNFUT", "exchange": "NFO", "product": "NRML", "instrument_type": "FUT"}
    book = match(
        [
            fill("2025-06-09", "BUY", 75, "24000", **fut),
            fill("2025-06-11", "SELL", 150, "24100", **fut),
            fill("2025-06-12", "BUY", 75, "23900", **fut),
        ]
    )
    assert [(lot.quantity, lot.long, lot.pnl) for lot in book.closed] == [
        (75, True, Decimal(7500)),
        (75, False, Decimal(15000)),
    ]
    assert book.open == ()


def test_a_partly_closed_option_short_keeps_its_remainder_open() -> None:
    opt = {"symbol": "NIFTY25JUN24000CE", "exchange": "NFO", "product": "NRML", "instrument_type": "CE"}
    book = match([fill("2025-06-09", "SELL", 150, "120", **opt), fill("2025-06-09 14:00", "BUY", 75, "100", **opt)])
    assert [(lot.quantity, lot.intraday, lot.pnl) for lot in book.closed] == [(75, True, Decimal(1500))]
    assert [(lot.quantity, lot.long) for lot in book.open] == [(75, False)]


def test_an_equity_sell_without_a_recorded_buy_is_unmatched_and_a_later_buy_opens_a_new_holding() -> None:
    # Before the fix the sell sat in the queue as a short lot and the next day's buy "closed" it:
    # a delivery loss/gain out of a sale of shares bought before the fill log and a buy still held.
    book = match([fill("2025-06-09", "SELL", 10, "100"), fill("2025-06-10", "BUY", 10, "90")])
    assert book.closed == ()
    assert [(lot.quantity, lot.fill.price, lot.long) for lot in book.unmatched] == [(10, Decimal(100), False)]
    assert [(lot.quantity, lot.fill.price) for lot in book.open] == [(10, Decimal(90))]


def test_only_the_part_of_a_sell_beyond_the_recorded_buys_is_unmatched() -> None:
    book = match([fill("2025-06-09", "BUY", 10, "90"), fill("2025-06-12", "SELL", 25, "99")])
    assert [(lot.quantity, lot.pnl) for lot in book.closed] == [(10, Decimal(90))]
    assert [lot.quantity for lot in book.unmatched] == [15] and book.open == ()

"""The P&L statement over a scripted history worked out by hand: a delivery buy filled in two parts
on 30 Nov, an intraday round trip on 1 Dec, a delivery sell on 2 Dec closing the two parts FIFO,
and a futures round trip across the two days; one account marked at ₹1050 for what is left open."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kite_gateway.core.reports import Charges, ChargeSource, OrderCharges, Segment
from kite_gateway.core.reports.statements import open_lots, open_mark_symbols, pnl_statement
from tests.core.reports.fills import fill

FUT = {"symbol": "NIFTY26DECFUT", "exchange": "NFO", "product": "NRML", "instrument_type": "FUT"}
HISTORY = [
    fill("2026-11-30 09:20", "BUY", 40, "999", order_id="O1"),  # one order, two partial fills
    fill("2026-11-30 09:21", "BUY", 60, "1000.50", order_id="O1"),
    fill("2026-12-01 09:30", "BUY", 50, "1010", product="MIS", order_id="O2"),
    fill("2026-12-01 14:00", "SELL", 50, "1020", product="MIS", order_id="O3"),
    fill("2026-12-01 10:00", "BUY", 75, "24000", order_id="O5", **FUT),
    fill("2026-12-02 11:00", "SELL", 60, "1030", order_id="O4"),
    fill("2026-12-02 11:30", "SELL", 75, "24100", order_id="O6", **FUT),
]


def charged(order_id: str, day: str, **lines: str) -> OrderCharges:
    amounts = {k: Decimal(v) for k, v in lines.items()}
    return OrderCharges("AB1234", order_id, date.fromisoformat(day), Charges(**amounts), ChargeSource.CONTRACT_NOTE)  # type: ignore[arg-type]


CHARGES = {
    "O1": charged("O1", "2026-11-30", stamp_duty="15"),
    "O2": charged("O2", "2026-12-01", brokerage="20"),
    "O3": charged("O3", "2026-12-01", brokerage="20"),
    "O5": charged("O5", "2026-12-01", brokerage="20"),
    "O4": charged("O4", "2026-12-02", transaction_tax="62"),
    "O6": charged("O6", "2026-12-02", brokerage="20"),
}


def test_realised_counts_lots_closed_in_the_range_against_costs_carried_in() -> None:
    statement = pnl_statement(HISTORY, CHARGES, date(2026, 12, 1), date(2026, 12, 2), {"NSE:INFY": Decimal(1050)})
    (account,) = statement.accounts
    lines = {line.key: line for line in account.by_instrument}
    # INFY: intraday 50 x (1020 - 1010) = 500; the 2 Dec sell of 60 closes 40 @ 999 (40 x 31 = 1240)
    # and 20 of the 60 @ 1000.50 (20 x 29.50 = 590): 500 + 1240 + 590 = 2330.
    assert lines["EQ:INFY"].realised == Decimal("2330")
    # 40 left @ 1000.50, marked at 1050: 40 x 49.50 = 1980.
    assert (lines["EQ:INFY"].open_quantity, lines["EQ:INFY"].unrealised) == (40, Decimal("1980"))
    assert lines["EQ:INFY"].mark_price == Decimal(1050)
    # Futures: 75 x (24100 - 24000) = 7500, nothing open.
    assert (lines["NFO:NIFTY26DECFUT"].realised, lines["NFO:NIFTY26DECFUT"].open_quantity) == (Decimal(7500), 0)
    # Charges of the range's orders only (O1's stamp duty of 30 Nov is not in it): 20 x 4 + 62 = 142.
    assert account.total.charges.total == Decimal(142)
    assert account.total.realised == Decimal(9830)
    assert account.total.net == Decimal(9830) + Decimal(1980) - Decimal(142)
    # Buys in the range: 50 x 1010 + 75 x 24000; sells: 50 x 1020 + 60 x 1030 + 75 x 24100.
    assert account.total.buy_value == Decimal(50500 + 1800000)
    assert account.total.sell_value == Decimal(51000 + 61800 + 1807500)


def test_by_day_is_an_equity_curve_of_realised_less_charges() -> None:
    statement = pnl_statement(HISTORY, CHARGES, date(2026, 12, 1), date(2026, 12, 2), {})
    days = [(d.day.day, d.realised, d.charges, d.net, d.cumulative_net) for d in statement.accounts[0].by_day]
    # 1 Dec: 500 realised, charges O2 + O3 + O5 = 60. 2 Dec: 1830 + 7500 realised, charges 62 + 20.
    assert days == [
        (1, Decimal(500), Decimal(60), Decimal(440), Decimal(440)),
        (2, Decimal(9330), Decimal(82), Decimal(9248), Decimal(9688)),
    ]


def test_segments_split_cash_equity_from_futures() -> None:
    statement = pnl_statement(HISTORY, CHARGES, date(2026, 12, 1), date(2026, 12, 2), {})
    segments = {line.segment: line.realised for line in statement.accounts[0].by_segment}
    assert segments == {Segment.EQUITY: Decimal(2330), Segment.EQUITY_FUTURES: Decimal(7500)}


def test_a_range_ending_before_the_sell_leaves_the_position_open_at_cost_without_a_mark() -> None:
    statement = pnl_statement(HISTORY, CHARGES, date(2026, 11, 30), date(2026, 12, 1), {})
    lines = {line.key: line for line in statement.accounts[0].by_instrument}
    assert (lines["EQ:INFY"].realised, lines["EQ:INFY"].open_quantity, lines["EQ:INFY"].unrealised) == (
        Decimal(500), 100, Decimal(0))  # fmt: skip
    assert lines["EQ:INFY"].mark_price is None
    assert open_mark_symbols(open_lots(HISTORY, date(2026, 12, 1))) == {"NSE:INFY", "NFO:NIFTY26DECFUT"}


def test_accounts_are_consolidated_by_instrument() -> None:
    other = [fill("2026-12-01 09:30", "BUY", 10, "1000", account_id="ZZ9999", product="MIS"),
             fill("2026-12-01 10:30", "SELL", 10, "990", account_id="ZZ9999", product="MIS")]  # fmt: skip
    statement = pnl_statement(HISTORY + other, CHARGES, date(2026, 12, 1), date(2026, 12, 2), {})
    assert [a.account_id for a in statement.accounts] == ["AB1234", "ZZ9999"]
    infy = {line.key: line for line in statement.consolidated.by_instrument}["EQ:INFY"]
    assert infy.realised == Decimal(2330) - Decimal(100)
    assert statement.consolidated.total.realised == Decimal(9830 - 100)


def test_a_delivery_sell_with_no_recorded_buy_is_unmatched_not_profit() -> None:
    statement = pnl_statement([fill("2026-12-02", "SELL", 5, "1000")], {}, date(2026, 12, 1), date(2026, 12, 2), {})
    assert statement.unmatched_sell_quantity == 5
    assert statement.accounts[0].total.realised == 0 and statement.accounts[0].total.unrealised == 0

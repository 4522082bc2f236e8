"""The estimator against the worked examples of india-tax-and-charges.md §10, line by line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib import resources

import pytest

from kite_gateway.core.reports.charge_rates import (
    LINES,
    MARKET_EXCHANGES,
    RATES_FILE,
    RATES_PACKAGE,
    RateNotFound,
    default_rates,
    parse,
)
from kite_gateway.core.reports.charges import ChargeLines, dp_charges, estimate, intraday_orders, itemise
from tests.core.reports.fills import fill

D = Decimal
FUT = {"symbol": "NIFTY25DECFUT", "exchange": "NFO", "product": "NRML", "instrument_type": "FUT"}
OPT = {"symbol": "NIFTY25DEC24000CE", "exchange": "NFO", "product": "NRML", "instrument_type": "CE"}


def lines(c: ChargeLines) -> tuple[Decimal, ...]:
    return (c.brokerage, c.transaction_tax, c.exchange_fee, c.ipft, c.sebi, c.stamp, c.gst)


def test_the_rate_table_ships_as_package_data_read_through_importlib_resources() -> None:
    text = resources.files(RATES_PACKAGE).joinpath(RATES_FILE).read_text(encoding="utf-8")
    assert parse(text) == default_rates() and len(default_rates().rates) > 40
    for rate in default_rates().rates:
        assert rate.source and rate.taken and rate.confidence in ("high", "med", "unverified"), rate


def test_every_line_of_every_market_and_exchange_has_exactly_one_rate_on_every_change_date() -> None:
    table = default_rates()
    days = [d for d in table.change_dates if d >= date(2024, 4, 1)] + [date(2024, 4, 1), date(2027, 3, 31)]
    for market, exchanges in MARKET_EXCHANGES.items():
        for exchange in exchanges:
            for line in LINES:
                if line == "dp" and market != "equity_delivery":
                    continue
                for symbol in ("NIFTY", "SENSEX24DEC", "SENSEX5024DEC", "BANKEX"):
                    for day in days:
                        table.find(line, market, exchange, symbol, day)  # raises on a gap or an overlap


def test_a_trade_before_the_table_starts_is_an_error_not_a_guess() -> None:
    with pytest.raises(RateNotFound, match="no transaction_tax rate for equity_futures"):
        estimate([fill("2024-03-28", "SELL", 75, "22000", **FUT)])


def test_e1_delivery_buy_and_sell_line_by_line() -> None:
    buy = itemise([fill("2025-06-10", "BUY", 100, "1000")])
    sell = itemise([fill("2025-12-10", "SELL", 100, "1200")])
    # brokerage 0; STT 0.1% = 100 / 120; exchange 0.00297%; IPFT and SEBI 0.0001%; stamp 0.015% on the buy
    assert lines(buy) == (D(0), D(100), D("2.97"), D("0.1"), D("0.1"), D("15"), D("0.18") * D("3.17"))
    assert lines(sell) == (D(0), D(120), D("3.564"), D("0.12"), D("0.12"), D(0), D("0.18") * D("3.804"))
    assert buy.exchange_fee + sell.exchange_fee == D("6.534")
    assert buy.gst + sell.gst == D("1.25532")
    dp = dp_charges([fill("2025-06-10", "BUY", 100, "1000"), fill("2025-12-10", "SELL", 100, "1200")])
    assert dp == {("AB1234", date(2025, 12, 10), "INFY"): D("15.34")}
    assert buy.total + sell.total + D("15.34") == D("258.56932")


def test_e2_delivery_sold_a_year_later_line_by_line() -> None:
    buy = itemise([fill("2024-11-11", "BUY", 100, "1000")])
    sell = itemise([fill("2025-11-12", "SELL", 100, "1500")])
    assert buy.transaction_tax + sell.transaction_tax == 250
    assert buy.exchange_fee + sell.exchange_fee == D("7.425")
    assert (buy.ipft + sell.ipft, buy.sebi + sell.sebi, buy.stamp + sell.stamp) == (D("0.25"), D("0.25"), D(15))
    assert buy.gst + sell.gst == D("1.4265")
    assert buy.total + sell.total + D("15.34") == D("289.6915")


def test_e3_intraday_mis_round_trip_line_by_line_with_stt_rounded_to_the_rupee() -> None:
    buy = itemise([fill("2025-06-10 09:30", "BUY", 100, "1000", product="MIS")])
    sell = itemise([fill("2025-06-10 14:30", "SELL", 100, "1010", product="MIS")])
    assert (buy.brokerage, sell.brokerage) == (D(20), D(20))  # 0.03% would be D(30) and 30.30
    assert (buy.transaction_tax, sell.transaction_tax) == (D(0), D(25))  # 0.025% x D(1),D(01),D(000) = 25.25 -> D(25)
    assert buy.exchange_fee + sell.exchange_fee == D("5.9697")
    assert (buy.ipft + sell.ipft, buy.sebi + sell.sebi, buy.stamp + sell.stamp) == (D("0.201"), D("0.201"), D(3))
    assert buy.gst + sell.gst == D("8.346906")  # 18% of 40 + 5.9697 + 0.201 + 0.201
    assert buy.total + sell.total == D("82.718606")


def test_e4_options_before_and_after_the_april_2026_stt() -> None:
    def round_trip(buy_day: str, sell_day: str) -> tuple[ChargeLines, ChargeLines]:
        return itemise([fill(buy_day, "BUY", 75, "100", **OPT)]), itemise([fill(sell_day, "SELL", 75, "120", **OPT)])

    buy, sell = round_trip("2025-12-01", "2025-12-02")
    assert (buy.brokerage, sell.brokerage) == (D(20), D(20))
    assert (buy.transaction_tax, sell.transaction_tax) == (D(0), D(9))  # 0.1% of D(9),D(000) premium
    assert buy.exchange_fee + sell.exchange_fee == D("5.77995")
    assert (buy.ipft + sell.ipft, buy.sebi + sell.sebi, buy.stamp) == (D("0.0825"), D("0.0165"), D("0.225"))
    assert buy.gst + sell.gst == D("8.258211")
    assert buy.total + sell.total == D("63.362161")
    buy, sell = round_trip("2026-04-06", "2026-04-07")
    assert sell.transaction_tax == 14  # 0.15% of 9,000 = 13.50 -> 14
    assert buy.total + sell.total == D("68.362161")
    # the last day of the old rate
    assert itemise([fill("2026-03-31", "SELL", 75, "120", **OPT)]).transaction_tax == 9


def test_e5_futures_brokerage_capped_and_stt_before_and_after_april_2026() -> None:
    buy = itemise([fill("2025-12-01", "BUY", 75, "24000", **FUT)])
    sell = itemise([fill("2025-12-02", "SELL", 75, "24100", **FUT)])
    assert (buy.brokerage, sell.brokerage) == (D(20), D(20))  # 0.03% would be D(540) and 542.25
    assert sell.transaction_tax == 362  # 0.02% of 18,07,500 = 361.50 -> 362
    assert buy.exchange_fee + sell.exchange_fee == D("62.40975")
    assert (buy.ipft + sell.ipft, buy.sebi + sell.sebi, buy.stamp) == (D("3.6075"), D("3.6075"), D(36))
    assert buy.gst + sell.gst == D("19.732455")
    assert buy.total + sell.total == D("527.357205")
    after = itemise([fill("2026-04-07", "SELL", 75, "24100", **FUT)])
    assert after.transaction_tax == 904  # 0.05% = 903.75 -> 904
    assert buy.total + after.total == D("1069.357205")


def test_an_intraday_order_below_the_cap_pays_three_basis_points_not_twenty_rupees() -> None:
    assert estimate([fill("2025-06-10", "BUY", 10, "500", product="MIS")]).brokerage == D("1.5")


def test_the_exchange_fee_changed_on_1_october_2024() -> None:
    before = itemise([fill("2024-09-30", "BUY", 100, "1000")])
    after = itemise([fill("2024-10-01", "BUY", 100, "1000")])
    assert (before.exchange_fee, after.exchange_fee) == (D("3.22"), D("2.97"))


def test_partial_fills_of_one_order_pay_one_brokerage_on_the_order_value() -> None:
    parts = [fill("2025-06-10 10:00", "SELL", 40, "1010", product="MIS", order_id="X"),
             fill("2025-06-10 10:01", "SELL", 60, "1010", product="MIS", order_id="X")]  # fmt: skip
    assert estimate(parts) == estimate([fill("2025-06-10", "SELL", 100, "1010", product="MIS")])
    with pytest.raises(ValueError, match="more than one order"):
        estimate([parts[0], fill("2025-06-10", "SELL", 1, "1010", product="MIS")])


def test_a_cnc_round_trip_within_the_day_is_charged_as_intraday() -> None:
    fills = [fill("2025-06-09", "BUY", 100, "90", order_id="old"),
             fill("2025-06-10 09:20", "BUY", 500, "100", order_id="in"),
             fill("2025-06-10 11:00", "SELL", 500, "105", order_id="out")]  # fmt: skip
    assert intraday_orders(fills) == {"in", "out"}
    out = [f for f in fills if f.order_id == "out"]
    assert estimate(out, intraday=True).transaction_tax == 13  # 0.025% of 52,500 = 13.125
    assert estimate(out).transaction_tax == 53  # CNC by default: delivery, 0.1% = 52.50 -> 53
    assert dp_charges(fills) == {}  # nothing left the demat


def test_bse_options_fees_follow_the_index_sensex_50_is_not_sensex() -> None:
    bfo = {"exchange": "BFO", "product": "NRML", "instrument_type": "CE"}
    fee = {s: itemise([fill("2025-12-01", "BUY", 20, "100", symbol=s, **bfo)]).exchange_fee
           for s in ("SENSEX25DEC80000CE", "SENSEX5025DEC25000CE", "RELIANCE25DEC1500CE")}  # fmt: skip
    assert fee == {"SENSEX25DEC80000CE": D("0.65"), "SENSEX5025DEC25000CE": D("0.1"), "RELIANCE25DEC1500CE": D("0.1")}


def test_zerodhas_mixed_day_example_is_estimated_without_the_average_price_split() -> None:
    # §10: buy 500 @ 100, sell 500 @ 105, buy 200 @ 110 (CNC, one day). Zerodha prices both parts at the
    # day's average 103.75: intraday STT 12.969 -> 13, delivery STT 20.75 -> 21. The estimate charges each
    # order at its own price: the sell intraday (0.025% of 52,500 = 13.125 -> 13), the last buy delivery
    # (0.1% of 22,000 = 22): a rupee over Zerodha's, the documented cost of keeping it simple.
    fills = [fill("2025-06-10 09:20", "BUY", 500, "100", order_id="B1"),
             fill("2025-06-10 10:00", "SELL", 500, "105", order_id="S"),
             fill("2025-06-10 11:00", "BUY", 200, "110", order_id="B2")]  # fmt: skip
    intraday = intraday_orders(fills)
    assert intraday == {"B1", "S"}
    stt = {f.order_id: estimate([f], intraday=f.order_id in intraday).transaction_tax for f in fills}
    assert stt == {"B1": D(0), "S": D(13), "B2": D(22)}

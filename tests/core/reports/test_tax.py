"""The tax P&L against answers worked by hand (india-tax-and-charges.md §10 and simpler cases)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from kite_gateway.core.reports import NO_CHARGES, Charges, ChargeSource, Fill, OrderCharges
from kite_gateway.core.reports.charges import dp_charges, estimate, intraday_orders
from kite_gateway.core.reports.tax import (
    Bucket,
    BucketRule,
    Exemption,
    GainRate,
    TaxPnl,
    financial_year_of,
    long_term,
    rules,
    tax_pnl,
)
from tests.core.reports.fills import fill

D = Decimal
PAISA = D("0.01")
STCG, LTCG = Bucket.SHORT_TERM_CAPITAL_GAINS, Bucket.LONG_TERM_CAPITAL_GAINS
SPEC, NONSPEC = Bucket.SPECULATIVE_BUSINESS, Bucket.NON_SPECULATIVE_BUSINESS
FUT = {"symbol": "NIFTY25DECFUT", "exchange": "NFO", "product": "NRML", "instrument_type": "FUT"}
OPT = {"symbol": "NIFTY25DEC24000CE", "exchange": "NFO", "product": "NRML", "instrument_type": "CE"}


def estimated(fills: list[Fill]) -> dict[str, OrderCharges]:
    """Every order's charges as the gateway estimates them (CNC round trips in the day at intraday rates)."""
    orders: dict[str, list[Fill]] = defaultdict(list)
    for f in fills:
        orders[f.order_id].append(f)
    intraday = intraday_orders(fills)
    return {
        order_id: OrderCharges(
            of[0].account_id, order_id, of[0].trade_date, estimate(of, intraday=order_id in intraday),
            ChargeSource.ESTIMATED, sum(f.quantity for f in of),
        )
        for order_id, of in orders.items()
    }  # fmt: skip


def free(fills: Iterable[Fill]) -> dict[str, OrderCharges]:
    return {f.order_id: OrderCharges(f.account_id, f.order_id, f.trade_date, NO_CHARGES, ChargeSource.ESTIMATED)
            for f in fills}  # fmt: skip


def given(f: Fill, charges: Charges) -> dict[str, OrderCharges]:
    return {f.order_id: OrderCharges(f.account_id, f.order_id, f.trade_date, charges, ChargeSource.CONTRACT_NOTE)}


def paise(value: Decimal) -> Decimal:
    return value.quantize(PAISA)


def only_lots(pnl: TaxPnl) -> dict[Bucket, list[tuple[int, Decimal]]]:
    return {b: [(lot.quantity, lot.gross) for lot in p.lots] for b, p in pnl.buckets.items() if p.lots}


def test_fifo_sells_the_oldest_buy_first_50_long_term_and_10_short_term() -> None:
    fills = [fill("2024-01-10", "BUY", 50, "100"), fill("2025-01-10", "BUY", 50, "150"),
             fill("2025-03-10", "SELL", 60, "200")]  # fmt: skip
    pnl = tax_pnl(fills, free(fills), 2024)
    # 50 x (200 - 100) = 5,000 held 14 months; 10 x (200 - 150) = 500 held 2 months
    assert only_lots(pnl) == {LTCG: [(50, D(5000))], STCG: [(10, D(500))]}
    assert pnl.buckets[LTCG].lots[0].holding_days == 425 and pnl.buckets[STCG].lots[0].holding_days == 59
    (ltcg,) = pnl.buckets[LTCG].rate_periods
    assert (ltcg.percent, ltcg.exemption, ltcg.taxable, ltcg.tax) == (D("12.5"), D(5000), D(0), D(0))  # under 1.25 lakh
    (stcg,) = pnl.buckets[STCG].rate_periods
    assert (stcg.percent, stcg.tax) == (D(20), D(100))  # 20% of 500
    assert pnl.label == "FY 2024-25" and pnl.unmatched == ()


def test_e1_short_term_delivery_net_of_all_charges_but_stt_at_20_percent() -> None:
    fills = [fill("2025-06-10", "BUY", 100, "1000"), fill("2025-12-10", "SELL", 100, "1200")]
    stcg = tax_pnl(fills, estimated(fills), 2025, dp=dp_charges(fills)).buckets[STCG]
    (lot,) = stcg.lots
    assert (lot.gross, lot.holding_days, lot.charges.transaction_tax, lot.charges.dp) == (
        D(20000),
        183,
        D(220),
        D("15.34"),
    )
    assert lot.charges.total == D("258.56932")  # every line of §10 E1, DP included
    assert stcg.deductible_charges == D("38.56932")  # 258.56932 - 220 STT (s.48)
    assert stcg.net == D("19961.43068") and paise(stcg.net) == D("19961.43")
    (period,) = stcg.rate_periods
    assert paise(period.tax) == D("3992.29")  # 20% of 19,961.43068 = 3,992.286136
    assert stcg.turnover is None and stcg.sale_value == 120000


def test_e2_long_term_under_the_exemption_then_over_it_with_a_lakh_of_other_gains() -> None:
    e2 = [fill("2024-11-11", "BUY", 100, "1000"), fill("2025-11-12", "SELL", 100, "1500")]
    alone = tax_pnl(e2, estimated(e2), 2025, dp=dp_charges(e2)).buckets[LTCG]
    assert alone.net == D("49960.3085")  # 50,000 - (289.6915 - 250 STT)
    (period,) = alone.rate_periods
    assert (period.exemption, period.taxable, period.tax) == (D("49960.3085"), D(0), D(0))
    other = [
        fill("2024-01-15", "BUY", 1000, "100", symbol="TCS"),
        fill("2025-05-15", "SELL", 1000, "200", symbol="TCS"),
    ]
    both = tax_pnl(e2 + other, {**estimated(e2), **free(other)}, 2025, dp={}).buckets[LTCG]
    (period,) = both.rate_periods
    assert both.exemption == 125000 and period.exemption == 125000
    # without DP: 50,000 - (274.3515 - 250) = 49,975.6485; + 1,00,000 - 1,25,000 = 24,975.6485 at 12.5%
    assert period.taxable == D("24975.6485") and paise(period.tax) == D("3121.96")
    with_dp = tax_pnl(e2 + other, {**estimated(e2), **free(other)}, 2025, dp=dp_charges(e2)).buckets[LTCG]
    # §10 E2: 12.5% x 24,960.31 = 3,120.04 (1,49,960.3085 - 1,25,000 = 24,960.3085)
    assert paise(with_dp.rate_periods[0].taxable) == D("24960.31") and paise(with_dp.rate_periods[0].tax) == D(
        "3120.04"
    )


def test_held_exactly_twelve_months_is_short_term_one_day_more_is_long_term() -> None:
    bought = [fill("2024-11-11", "BUY", 100, "1000")]
    on_the_day = [*bought, fill("2025-11-11", "SELL", 100, "1500")]
    assert list(only_lots(tax_pnl(on_the_day, free(on_the_day), 2025))) == [STCG]
    day_after = [*bought, fill("2025-11-12", "SELL", 100, "1500")]
    assert list(only_lots(tax_pnl(day_after, free(day_after), 2025))) == [LTCG]
    # 29 Feb + 12 months is 28 Feb (the month has no 29th): 28 Feb is short-term, 1 Mar long-term
    assert not long_term(date(2024, 2, 29), date(2025, 2, 28), 12)
    assert long_term(date(2024, 2, 29), date(2025, 3, 1), 12)


def test_e3_intraday_is_speculative_business_net_of_every_charge_with_pnl_turnover() -> None:
    fills = [fill("2025-06-10 09:30", "BUY", 100, "1000", product="MIS"),
             fill("2025-06-10 14:30", "SELL", 100, "1010", product="MIS")]  # fmt: skip
    spec = tax_pnl(fills, estimated(fills), 2025, dp=dp_charges(fills)).buckets[SPEC]
    assert spec.gross == 1000 and spec.deductible_charges == D("82.718606")  # STT is deductible here
    assert paise(spec.net) == D("917.28") and spec.turnover == 1000
    assert spec.rate_periods == () and "slab" in spec.rate_note


def test_e4_options_are_non_speculative_before_and_after_the_april_2026_stt() -> None:
    fy25 = [fill("2025-12-01", "BUY", 75, "100", **OPT), fill("2025-12-02", "SELL", 75, "120", **OPT)]
    b = tax_pnl(fy25, estimated(fy25), 2025).buckets[NONSPEC]
    assert (b.gross, b.turnover, paise(b.net)) == (D(1500), D(1500), D("1436.64"))  # D(1),D(500) - 63.362161
    fy26 = [fill("2026-04-06", "BUY", 75, "100", **OPT), fill("2026-04-07", "SELL", 75, "120", **OPT)]
    b = tax_pnl(fy26, estimated(fy26), 2026).buckets[NONSPEC]
    assert paise(b.net) == D("1431.64")  # 1,500 - 68.362161


def test_e5_futures_non_speculative_net_and_turnover() -> None:
    fy25 = [fill("2025-12-01", "BUY", 75, "24000", **FUT), fill("2025-12-02", "SELL", 75, "24100", **FUT)]
    b = tax_pnl(fy25, estimated(fy25), 2025).buckets[NONSPEC]
    assert (b.gross, b.turnover, b.net) == (D(7500), D(7500), D("6972.642795"))  # D(7),D(500) - 527.357205
    assert b.charges.transaction_tax == 362
    fy26 = [fill("2026-04-06", "BUY", 75, "24000", **FUT), fill("2026-04-07", "SELL", 75, "24100", **FUT)]
    assert tax_pnl(fy26, estimated(fy26), 2026).buckets[NONSPEC].net == D("6430.642795")  # 7,500 - 1,069.357205


def test_an_orders_charges_are_split_over_its_partial_fills_by_quantity() -> None:
    first = fill("2025-06-10 10:00", "BUY", 30, "1000", order_id="B")
    second = fill("2025-06-10 10:05", "BUY", 70, "1010", order_id="B")
    sell = fill("2025-12-10", "SELL", 100, "1200", order_id="S")
    charges = {**given(first, Charges(transaction_tax=D(101), exchange_turnover_charge=D(3), stamp_duty=D(15))),
               **given(sell, Charges(transaction_tax=D(120), exchange_turnover_charge=D(4)))}  # fmt: skip
    (a, b) = tax_pnl([first, second, sell], charges, 2025).buckets[STCG].lots
    # 30 of the buy's 100: 30.3 STT, 0.9 exchange, 4.5 stamp; 30 of the sell's 100: 36 STT, 1.2 exchange
    assert (a.quantity, a.gross) == (30, D(6000))
    assert (a.charges.transaction_tax, a.charges.exchange_turnover_charge, a.charges.stamp_duty) == (
        D("66.3"), D("2.1"), D("4.5"))  # fmt: skip
    assert a.deductible_charges == D("6.6")  # 2.1 + 4.5: STT is not deducted from capital gains
    # 70 of each: 70.7 + 84 STT, 2.1 + 2.8 exchange, 10.5 stamp; gross 70 x (1200 - 1010)
    assert (b.quantity, b.gross, b.charges.transaction_tax, b.deductible_charges) == (
        70, D(13300), D("154.7"), D("15.4"))  # fmt: skip


def test_a_position_carried_over_days_is_one_lot_with_its_holding_days() -> None:
    fills = [fill("2025-06-09", "BUY", 10, "500"), fill("2025-06-12", "SELL", 10, "520"),
             fill("2025-06-09", "BUY", 75, "24000", **FUT), fill("2025-06-12", "SELL", 75, "23900", **FUT)]  # fmt: skip
    pnl = tax_pnl(fills, free(fills), 2025)
    assert [(lot.holding_days, lot.gross) for lot in pnl.buckets[STCG].lots] == [(3, D(200))]
    assert [(lot.holding_days, lot.gross) for lot in pnl.buckets[NONSPEC].lots] == [(3, D(-7500))]
    assert pnl.buckets[NONSPEC].turnover == 7500  # |-7,500|


def test_intraday_and_delivery_of_one_symbol_on_one_day_go_to_their_own_buckets() -> None:
    held = fill("2025-06-09", "BUY", 100, "90", order_id="H")
    buy = fill("2025-06-10 09:20", "BUY", 500, "100", order_id="B")
    sell = fill("2025-06-10 11:00", "SELL", 600, "105", order_id="S")
    charges = {**free([held, buy]), **given(sell, Charges(transaction_tax=D(63), exchange_turnover_charge=D("1.8")))}
    pnl = tax_pnl([held, buy, sell], charges, 2025, dp={("AB1234", sell.trade_date, "INFY"): D("15.34")})
    (spec,) = pnl.buckets[SPEC].lots
    (stcg,) = pnl.buckets[STCG].lots
    # 500 bought and sold in the day: gross 500 x 5 = 2,500; 500/600 of the sell's charges (52.5 STT, 1.5 exchange)
    assert (spec.quantity, spec.gross, spec.charges.transaction_tax, spec.deductible_charges) == (
        500, D(2500), D("52.5"), D("54"))  # fmt: skip
    # 100 of the holding: gross 100 x 15 = 1,500; 100/600 (10.5 STT, 0.3 exchange) and all of the day's DP
    assert (stcg.quantity, stcg.gross, stcg.charges.dp, stcg.deductible_charges) == (
        100,
        D(1500),
        D("15.34"),
        D("15.64"),
    )
    assert pnl.buckets[SPEC].turnover == 2500


def test_futures_turnover_adds_gains_and_losses_as_absolute_values() -> None:
    fills = [fill("2025-07-01 09:30", "BUY", 75, "24000", **FUT), fill("2025-07-01 10:00", "SELL", 75, "24020", **FUT),
             fill("2025-07-02 09:30", "SELL", 75, "24000", **FUT), fill("2025-07-03 10:00", "BUY", 75, "24010", **FUT),
             fill("2025-07-04", "BUY", 75, "100", **OPT), fill("2025-07-08", "SELL", 75, "80", **OPT)]  # fmt: skip
    b = tax_pnl(fills, free(fills), 2025).buckets[NONSPEC]
    # +1,500 (long), -750 (short), -1,500 (option): gross -750, turnover 1,500 + 750 + 1,500
    assert [lot.gross for lot in b.lots] == [D(1500), D(-750), D(-1500)]
    assert (b.gross, b.turnover) == (D(-750), D(3750)) and b.lots[1].short


def test_a_lot_bought_in_one_year_and_sold_in_the_next_is_in_the_year_of_its_sale_only() -> None:
    fills = [fill("2025-03-20", "BUY", 10, "100"), fill("2025-04-10", "SELL", 10, "110")]
    assert only_lots(tax_pnl(fills, free(fills), 2024)) == {}
    assert only_lots(tax_pnl(fills, free(fills), 2025)) == {STCG: [(10, D(100))]}
    assert (financial_year_of(fills[0].trade_date), financial_year_of(fills[1].trade_date)) == (2024, 2025)


def test_a_short_future_belongs_to_the_year_it_is_bought_back_in() -> None:
    fills = [fill("2026-03-30", "SELL", 75, "24000", **FUT), fill("2026-04-02", "BUY", 75, "23900", **FUT)]
    assert only_lots(tax_pnl(fills, free(fills), 2025)) == {}
    assert only_lots(tax_pnl(fills, free(fills), 2026)) == {NONSPEC: [(75, D(7500))]}


def test_a_sale_of_shares_bought_before_the_log_is_reported_unmatched_not_dropped() -> None:
    sell = fill("2025-08-01", "SELL", 10, "2000", symbol="HDFCBANK")
    pnl = tax_pnl([sell], given(sell, Charges(transaction_tax=D(20))), 2025, dp=dp_charges([sell]))
    (u,) = pnl.unmatched
    assert (u.symbol, u.quantity, u.sell_value, u.charges.transaction_tax, u.charges.dp) == (
        "HDFCBANK", 10, D(20000), D(20), D("15.34"))  # fmt: skip
    assert only_lots(pnl) == {} and any("no recorded buy" in w for w in pnl.warnings)


def test_orders_without_charges_are_listed_and_warned_about() -> None:
    fills = [fill("2025-06-10", "BUY", 1, "10", order_id="A"), fill("2025-12-10", "SELL", 1, "12", order_id="Z")]
    pnl = tax_pnl(fills, free(fills[:1]), 2025)
    assert pnl.orders_without_charges == ("Z",) and any("order Z has no charges" in w for w in pnl.warnings)


def test_fy_2024_25_splits_short_term_gains_at_the_23_july_2024_rate_change() -> None:
    fills = [fill("2024-05-02", "BUY", 20, "100"), fill("2024-07-22", "SELL", 10, "150"),
             fill("2024-07-23", "SELL", 10, "150")]  # fmt: skip
    periods = tax_pnl(fills, free(fills), 2024).buckets[STCG].rate_periods
    # 500 at 15% = 75 before; 500 at 20% = 100 from 23 Jul
    assert [(p.percent, p.gain, p.tax) for p in periods] == [(D(15), D(500), D(75)), (D(20), D(500), D(100))]


def test_the_lakh_and_a_quarter_exemption_is_set_against_the_higher_rate_period_first() -> None:
    fills = [fill("2022-05-02", "BUY", 2000, "100"), fill("2024-07-01", "SELL", 1000, "200"),
             fill("2024-08-01", "SELL", 1000, "200")]  # fmt: skip
    before, after = tax_pnl(fills, free(fills), 2024).buckets[LTCG].rate_periods
    # 1,00,000 at 10% and 1,00,000 at 12.5%: 1,25,000 takes all of the 12.5% part, 25,000 of the 10% part
    assert (after.percent, after.exemption, after.tax) == (D("12.5"), D(100000), D(0))
    assert (before.percent, before.exemption, before.taxable, before.tax) == (D(10), D(25000), D(75000), D(7500))


def test_section_labels_carry_both_acts_from_tax_year_2026_27() -> None:
    fills = [fill("2025-06-10", "BUY", 1, "10")]
    assert tax_pnl(fills, free(fills), 2025).buckets[STCG].section == "s.111A (Income-tax Act 1961)"
    fy26 = tax_pnl(fills, free(fills), 2026)
    assert fy26.buckets[STCG].section == "s.111A (Income-tax Act 1961) / s.196 (Income-tax Act 2025)"
    assert fy26.buckets[LTCG].section.endswith("s.198 (Income-tax Act 2025)")
    assert fy26.label == "FY 2026-27 (tax year 2026-27)"


def test_shares_bought_before_february_2018_are_flagged_for_grandfathering() -> None:
    fills = [fill("2017-06-01", "BUY", 1, "500"), fill("2025-06-10", "SELL", 1, "1000")]
    pnl = tax_pnl(fills, free(fills), 2025)
    assert pnl.buckets[LTCG].gross == 500 and any("grandfathering" in w for w in pnl.warnings)


def test_the_rules_are_data_with_sources_and_dates_taken() -> None:
    shipped = rules()
    assert shipped.long_term_more_than_months == 12 and "calendar months" in shipped.holding_convention
    assert {b.section_1961 for b in shipped.buckets.values()} >= {"s.111A", "s.112A"}
    rows: list[GainRate | Exemption | BucketRule] = [*shipped.rates, *shipped.exemptions, *shipped.buckets.values()]
    for row in rows:
        assert row.source and row.taken == "2026-06"
    assert any("grandfathering" in line for line in shipped.out_of_scope)
    assert shipped.charge_rates.rates and tax_pnl([], {}, 2025).out_of_scope == shipped.out_of_scope

"""Each account's order from a signal: the four sizing modes, lot rounding (to zero: a skip), the
target position's difference from what is held (negative targets, flattening, already there), the
cap, limit prices on the passive side of the tick grid, and the capital each leg adds."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from kite_gateway.core.signals.model import Side, Signal, Urgency, Validity
from kite_gateway.core.signals.sizing import (
    AccountView,
    Leg,
    Skip,
    limit_price,
    reference_price,
    round_to_tick,
    size_all,
    size_leg,
)
from kite_gateway.core.signals.strategies import Sizing, SizingMode, Strategy

TICK = Decimal("0.05")
LAST = Decimal("100.00")
BUY_10 = Signal("s", "sig-1", "NSE", "INFY", side=Side.BUY, quantity=10)
SELL_10 = replace(BUY_10, side=Side.SELL)


def _strategy(sizing: Sizing | None = None, **overrides: Sizing) -> Strategy:
    return Strategy("s", accounts=("A", "B"), sizing=sizing or Sizing(), account_sizing=overrides)


def _leg(result: Leg | Skip) -> Leg:
    assert isinstance(result, Leg), result
    return result


def _skip(result: Leg | Skip) -> str:
    assert isinstance(result, Skip), result
    return result.reason


def test_multiplier_sizing_scales_the_signal_quantity_and_rounds_down() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal("2.55")))
    leg = _leg(size_leg(strategy, BUY_10, AccountView("A"), 1, TICK, LAST))
    assert (leg.side, leg.quantity, leg.order_type, leg.price) == (Side.BUY, 25, "MARKET", Decimal(0))
    assert leg.product == "MIS" and leg.validity == "DAY"


def test_fixed_sizing_ignores_the_signal_quantity() -> None:
    strategy = _strategy(Sizing(SizingMode.FIXED, quantity=7, multiplier=None))
    assert _leg(size_leg(strategy, replace(SELL_10, quantity=1000), AccountView("A"), 1, TICK, LAST)).quantity == 7


def test_capital_share_divides_the_share_of_available_margin_by_the_price() -> None:
    strategy = _strategy(Sizing(SizingMode.CAPITAL_SHARE, multiplier=None, fraction=Decimal("0.1")))
    leg = _leg(size_leg(strategy, BUY_10, AccountView("A", available_margin=Decimal(25_050)), 1, TICK, LAST))
    assert leg.quantity == 25  # 2505 / 100 rounded down


def test_capital_share_with_no_margin_known_skips_the_account_saying_so() -> None:
    strategy = _strategy(Sizing(SizingMode.CAPITAL_SHARE, multiplier=None, fraction=Decimal("0.1")))
    assert "available margin is not known" in _skip(size_leg(strategy, BUY_10, AccountView("A"), 1, TICK, LAST))


def test_capital_share_with_a_negative_margin_sizes_nothing() -> None:
    strategy = _strategy(Sizing(SizingMode.CAPITAL_SHARE, multiplier=None, fraction=Decimal("0.5")))
    view = AccountView("A", available_margin=Decimal(-500))
    assert "0 lots" in _skip(size_leg(strategy, BUY_10, view, 1, TICK, LAST))


def test_capital_share_uses_the_price_hint_over_the_last_price() -> None:
    strategy = _strategy(Sizing(SizingMode.CAPITAL_SHARE, multiplier=None, fraction=Decimal(1)))
    view = AccountView("A", available_margin=Decimal(1000))
    assert _leg(size_leg(strategy, replace(BUY_10, price_hint=Decimal(50)), view, 1, TICK, LAST)).quantity == 20


def test_risk_sizing_divides_the_risk_amount_by_the_signal_stop_distance_first() -> None:
    strategy = _strategy(Sizing(SizingMode.RISK, multiplier=None, risk_amount=Decimal(1000), stop_distance=Decimal(4)))
    assert _leg(size_leg(strategy, BUY_10, AccountView("A"), 1, TICK, LAST)).quantity == 250
    signal = replace(BUY_10, stop_distance=Decimal("3"))
    assert _leg(size_leg(strategy, signal, AccountView("A"), 1, TICK, LAST)).quantity == 333


def test_risk_sizing_without_any_stop_distance_skips_the_account() -> None:
    strategy = _strategy(Sizing(SizingMode.RISK, multiplier=None, risk_amount=Decimal(1000)))
    assert "needs a stop distance" in _skip(size_leg(strategy, BUY_10, AccountView("A"), 1, TICK, LAST))


def test_quantities_round_down_to_whole_lots() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(13)))
    assert _leg(size_leg(strategy, BUY_10, AccountView("A"), 50, TICK, LAST)).quantity == 100  # 130 -> 2 lots


def test_a_quantity_under_one_lot_skips_the_leg_with_the_reason() -> None:
    reason = _skip(size_leg(_strategy(), BUY_10, AccountView("A"), 75, TICK, LAST))
    assert reason == "10 units round down to 0 lots of 75: nothing to order"


def test_an_account_override_sizes_that_account_only() -> None:
    strategy = _strategy(Sizing(), B=Sizing(SizingMode.FIXED, quantity=3, multiplier=None))
    legs = size_all(strategy, BUY_10, [AccountView("A"), AccountView("B")], 1, TICK, LAST)
    assert [_leg(leg).quantity for leg in legs] == [10, 3]


def test_the_cap_limits_one_order_to_whole_lots() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(100), max_quantity=130))
    assert _leg(size_leg(strategy, BUY_10, AccountView("A"), 50, TICK, LAST)).quantity == 100


def test_a_cap_under_one_lot_skips_the_leg() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(100), max_quantity=30))
    assert "less than one lot of 50" in _skip(size_leg(strategy, BUY_10, AccountView("A"), 50, TICK, LAST))


def _target(position: int) -> Signal:
    return Signal("s", "sig-t", "NFO", "NIFTYFUT", target_position=position)


def test_a_target_orders_the_difference_from_the_current_position() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(50)))  # target 3 -> 150 units
    leg = _leg(size_leg(strategy, _target(3), AccountView("A", position=50), 50, TICK, LAST))
    assert (leg.side, leg.quantity) == (Side.BUY, 100)


def test_a_target_below_the_current_position_sells() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(50)))
    leg = _leg(size_leg(strategy, _target(1), AccountView("A", position=200), 50, TICK, LAST))
    assert (leg.side, leg.quantity, leg.reduces_only, leg.capital) == (Side.SELL, 150, True, Decimal(0))


def test_a_negative_target_goes_short_through_zero() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(50)))
    leg = _leg(size_leg(strategy, _target(-2), AccountView("A", position=50), 50, TICK, LAST))
    assert (leg.side, leg.quantity) == (Side.SELL, 150)  # 50 long -> 100 short
    assert leg.capital == 100 * LAST and not leg.reduces_only  # only the short part opens


def test_a_target_of_zero_flattens_whatever_the_sizing() -> None:
    strategy = _strategy(Sizing(SizingMode.CAPITAL_SHARE, multiplier=None, fraction=Decimal("0.1")))  # no margin
    leg = _leg(size_leg(strategy, _target(0), AccountView("A", position=-75), 75, TICK, LAST))
    assert (leg.side, leg.quantity, leg.reduces_only) == (Side.BUY, 75, True)


def test_an_account_already_at_the_target_is_skipped() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(50)))
    assert "already at the target position of -100" in _skip(
        size_leg(strategy, _target(-2), AccountView("A", position=-100), 50, TICK, LAST)
    )


def test_a_target_that_rounds_to_zero_lots_is_skipped_not_flattened() -> None:
    reason = _skip(size_leg(_strategy(), _target(10), AccountView("A", position=150), 75, TICK, LAST))
    assert "0 lots of 75" in reason


def test_a_capped_target_moves_part_of_the_way() -> None:
    strategy = _strategy(Sizing(SizingMode.MULTIPLIER, multiplier=Decimal(50), max_quantity=100))
    leg = _leg(size_leg(strategy, _target(-4), AccountView("A"), 50, TICK, LAST))
    assert (leg.side, leg.quantity) == (Side.SELL, 100)


def test_a_delta_adds_to_the_position_and_counts_its_capital() -> None:
    leg = _leg(size_leg(_strategy(), BUY_10, AccountView("A", position=5), 1, TICK, LAST))
    assert (leg.quantity, leg.capital, leg.reduces_only) == (10, 10 * LAST, False)


def test_a_delta_sell_against_a_long_only_reduces() -> None:
    leg = _leg(size_leg(_strategy(), SELL_10, AccountView("A", position=30), 1, TICK, LAST))
    assert (leg.side, leg.capital, leg.reduces_only) == (Side.SELL, Decimal(0), True)


def test_limit_offset_is_passive_in_ticks_and_rounded_toward_passive() -> None:
    signal = replace(BUY_10, urgency=Urgency.limit_offset(2), price_hint=Decimal("100.03"))
    buy = _leg(size_leg(_strategy(), signal, AccountView("A"), 1, TICK, LAST))
    assert (buy.order_type, buy.price) == ("LIMIT", Decimal("99.90"))  # 100.03 - 0.10 = 99.93 -> down to 99.90
    sell = _leg(size_leg(_strategy(), replace(signal, side=Side.SELL), AccountView("A"), 1, TICK, LAST))
    assert sell.price == Decimal("100.15")  # 100.03 + 0.10 = 100.13 -> up to 100.15


def test_a_negative_offset_crosses_the_reference_price() -> None:
    signal = replace(BUY_10, urgency=Urgency.limit_offset(-3))
    assert limit_price(signal, Side.BUY, LAST, TICK) == Decimal("100.15")


def test_limit_offset_without_a_hint_uses_the_last_price() -> None:
    signal = replace(SELL_10, urgency=Urgency.limit_offset(1))
    assert limit_price(signal, Side.SELL, LAST, TICK) == Decimal("100.05")


def test_at_price_is_rounded_to_the_tick_toward_passive_and_sets_the_capital() -> None:
    signal = replace(BUY_10, urgency=Urgency.at_price(Decimal("101.07")))
    leg = _leg(size_leg(_strategy(), signal, AccountView("A"), 1, TICK, LAST))
    assert (leg.order_type, leg.price, leg.capital) == ("LIMIT", Decimal("101.05"), Decimal("1010.50"))
    assert limit_price(signal, Side.SELL, LAST, TICK) == Decimal("101.10")
    assert reference_price(signal, LAST) == Decimal("101.07")


def test_an_offset_that_would_price_at_or_below_zero_skips_the_leg() -> None:
    signal = replace(BUY_10, urgency=Urgency.limit_offset(2000))
    assert "at or below 0: use a smaller offset" in _skip(
        size_leg(_strategy(), signal, AccountView("A"), 1, TICK, LAST)
    )


def test_an_at_price_under_one_tick_skips_the_leg_saying_the_price_not_an_offset_is_the_trouble() -> None:
    signal = replace(BUY_10, urgency=Urgency.at_price(Decimal("0.01")))
    reason = _skip(size_leg(_strategy(), signal, AccountView("A"), 1, TICK, LAST))
    assert "at or below 0" in reason and "offset" not in reason and "0.05" in reason


def test_the_signal_product_and_validity_override_the_strategy() -> None:
    signal = replace(BUY_10, product="cnc", validity=Validity.IOC)
    leg = _leg(size_leg(_strategy(), signal, AccountView("A"), 1, TICK, LAST))
    assert (leg.product, leg.validity) == ("CNC", "IOC")


@pytest.mark.parametrize(
    ("price", "side", "expected"),
    [("10.00", Side.BUY, "10.00"), ("10.01", Side.BUY, "10.00"), ("10.01", Side.SELL, "10.05"),
     ("10.04", Side.SELL, "10.05"), ("10.05", Side.SELL, "10.05")],
)  # fmt: skip
def test_round_to_tick_never_rounds_toward_the_aggressive_side(price: str, side: Side, expected: str) -> None:
    assert round_to_tick(Decimal(price), TICK, side) == Decimal(expected)


def test_fixed_sizing_of_a_target_holds_the_fixed_quantity_on_the_targets_side() -> None:
    strategy = _strategy(Sizing(SizingMode.FIXED, quantity=100, multiplier=None))
    leg = _leg(size_leg(strategy, _target(-1), AccountView("A", position=25), 25, TICK, LAST))
    assert (leg.side, leg.quantity) == (Side.SELL, 125)  # 25 long -> 100 short


def test_a_target_with_risk_sizing_and_no_stop_skips_rather_than_flattening() -> None:
    strategy = _strategy(Sizing(SizingMode.RISK, multiplier=None, risk_amount=Decimal(1000)))
    assert "needs a stop distance" in _skip(
        size_leg(strategy, _target(2), AccountView("A", position=50), 1, TICK, LAST)
    )


def test_an_instrument_without_a_tick_size_keeps_the_asked_price() -> None:
    assert round_to_tick(Decimal("10.013"), Decimal(0), Side.BUY) == Decimal("10.013")


def test_a_negative_offset_crossing_the_reference_by_more_than_five_percent_is_skipped_not_sent() -> None:
    signal = Signal("s", "x", "NSE", "INFY", side=Side.BUY, quantity=1, price_hint=Decimal(100),
                    urgency=Urgency.limit_offset(-200))  # fmt: skip
    (skip,) = size_all(Strategy("s", accounts=("A",)), signal, [AccountView("A")], 1, Decimal("0.05"), Decimal(100))
    assert isinstance(skip, Skip) and "crosses the reference 100 by more than 5%" in skip.reason
    near = Signal("s", "y", "NSE", "INFY", side=Side.BUY, quantity=1, price_hint=Decimal(100),
                  urgency=Urgency.limit_offset(-100))  # fmt: skip
    (leg,) = size_all(Strategy("s", accounts=("A",)), near, [AccountView("A")], 1, Decimal("0.05"), Decimal(100))
    assert isinstance(leg, Leg) and leg.price == Decimal("105.00")

"""Kite's order rules, shared by the gateway's validation and the simulator's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kite_wire import order_rules as rules


def test_quantity_steps_by_the_lot_size_and_by_one_without_a_lot() -> None:
    assert rules.is_lot_multiple(150, 75) and not rules.is_lot_multiple(100, 75)
    assert rules.lot_of(0) == 1 and rules.is_lot_multiple(7, 0)


def test_prices_sit_on_the_tick_grid_and_anything_goes_without_a_tick_size() -> None:
    assert rules.is_on_tick(Decimal("1573.15"), Decimal("0.05"))
    assert not rules.is_on_tick(Decimal("1573.12"), Decimal("0.05"))
    assert rules.is_on_tick(Decimal("83.1225"), Decimal("0.0025"))
    assert rules.is_on_tick(Decimal("1.23"), Decimal(0))


@pytest.mark.parametrize(
    ("order_type", "variety", "price", "trigger", "protection"),
    [
        ("MARKET", "regular", False, False, True),
        ("LIMIT", "regular", True, False, False),
        ("SL", "regular", True, True, False),
        ("SL-M", "regular", False, True, True),
        ("MARKET", "co", False, True, True),  # a cover order's stop-loss leg needs its trigger
        ("LIMIT", "co", True, True, False),
    ],
)
def test_each_order_type_carries_its_own_prices(
    order_type: str, variety: str, price: bool, trigger: bool, protection: bool
) -> None:
    assert rules.needs_price(order_type) is price
    assert rules.needs_trigger(order_type, variety) is trigger
    assert rules.takes_market_protection(order_type) is protection


def test_delivery_products_are_for_equity_and_nrml_for_derivatives() -> None:
    assert rules.delivery_refused("CNC", is_derivative=True) and rules.delivery_refused("MTF", is_derivative=True)
    assert not rules.delivery_refused("CNC", is_derivative=False) and not rules.delivery_refused("MIS", True)
    assert rules.carry_forward_refused("NRML", is_derivative=False)
    assert not rules.carry_forward_refused("NRML", is_derivative=True) and not rules.carry_forward_refused("MIS", False)


def test_a_ttl_order_needs_its_minutes_and_other_validities_do_not() -> None:
    assert rules.ttl_missing("TTL", 0) and rules.ttl_missing("TTL", -1)
    assert not rules.ttl_missing("TTL", 5) and not rules.ttl_missing("DAY", 0)


def test_icebergs_have_two_to_ten_legs_that_cover_the_quantity() -> None:
    assert [legs for legs in range(0, 13) if rules.iceberg_legs_valid(legs)] == list(range(2, 11))
    assert rules.iceberg_covers(3, 40, 120) and not rules.iceberg_covers(3, 39, 120)
    assert not rules.iceberg_covers(3, 0, 0)


def test_the_disclosed_quantity_is_at_most_the_quantity() -> None:
    assert rules.disclosed_quantity_valid(0, 10) and rules.disclosed_quantity_valid(10, 10)
    assert not rules.disclosed_quantity_valid(11, 10) and not rules.disclosed_quantity_valid(-1, 10)


def test_the_words_kite_accepts() -> None:
    assert rules.VARIETIES == ("regular", "amo", "co", "iceberg", "auction")
    assert rules.ORDER_TYPES == ("MARKET", "LIMIT", "SL", "SL-M")
    assert rules.PRODUCTS == ("CNC", "NRML", "MIS", "MTF", "CO")
    assert rules.VALIDITIES == ("DAY", "IOC", "TTL")

"""The exit rules of one scope: each crosses once a day, the profit lock trails its peak, the next
trading day re-arms them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kite_gateway.core.risk import ExitRule, ExitRules
from kite_gateway.core.risk.exit_rules import ACCOUNT, ScopeRules

DAY = date(2026, 12, 2)


def scope(**rules: object) -> ScopeRules:
    return ScopeRules(ACCOUNT, "ZS0001", ExitRules(**rules), DAY)  # type: ignore[arg-type]


def test_the_daily_loss_limit_crosses_at_the_limit_once_however_many_ticks_stay_below() -> None:
    rules = scope(daily_loss_limit=Decimal(1000))
    assert rules.evaluate(Decimal(-999), None) == []
    crossed = rules.evaluate(Decimal(-1000), None)
    assert [c.rule for c in crossed] == [ExitRule.DAILY_LOSS_LIMIT]
    assert "P&L -1000.00 <= -1000.00" in crossed[0].reason
    assert rules.evaluate(Decimal(-1500), None) == rules.evaluate(Decimal(-900), None) == []
    assert rules.evaluate(Decimal(-1200), None) == []  # crossing again the same day does nothing


def test_the_next_trading_day_re_arms_the_rules_and_forgets_the_peak() -> None:
    rules = scope(daily_loss_limit=Decimal(10), profit_lock_activate=Decimal(5), profit_lock_trail=Decimal(1))
    rules.evaluate(Decimal(8), None)
    rules.evaluate(Decimal(-20), None)
    rules.new_day(date(2026, 12, 3))
    assert rules.peak is None and not rules.crossed
    assert [c.rule for c in rules.evaluate(Decimal(-20), None)] == [ExitRule.DAILY_LOSS_LIMIT]


def test_the_profit_lock_arms_at_its_activation_then_crosses_below_the_trailing_peak() -> None:
    rules = scope(profit_lock_activate=Decimal(100), profit_lock_trail=Decimal(30))
    assert rules.evaluate(Decimal(60), None) == [] and rules.peak is None  # not armed yet: no floor
    assert rules.evaluate(Decimal(20), None) == []
    assert rules.evaluate(Decimal(100), None) == [] and rules.peak == Decimal(100)
    assert rules.evaluate(Decimal(150), None) == [] and rules.peak == Decimal(150)
    assert rules.evaluate(Decimal(121), None) == []  # above 150 - 30
    crossed = rules.evaluate(Decimal("119.5"), None)
    assert [(c.rule, c.threshold) for c in crossed] == [(ExitRule.PROFIT_LOCK, Decimal(120))]
    assert "peak 150.00" in crossed[0].reason


def test_the_margin_ceiling_crosses_when_utilisation_reaches_it() -> None:
    rules = scope(max_margin_utilisation=Decimal("0.8"))
    assert rules.evaluate(Decimal(0), Decimal("0.79")) == []
    assert [c.rule for c in rules.evaluate(Decimal(0), Decimal("0.8"))] == [ExitRule.MARGIN_UTILISATION]


def test_rules_not_set_never_cross() -> None:
    rules = scope()
    assert rules.evaluate(Decimal(-(10**9)), Decimal(5)) == []

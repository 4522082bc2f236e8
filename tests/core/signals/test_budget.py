"""The day budgets: capital counted only for legs that open positions, orders one per leg, and a
spent loss budget letting through only signals that reduce; each refusal names the budget, the
limit, the usage and the request."""

from __future__ import annotations

from decimal import Decimal

from kite_gateway.core.signals.budget import Refusal, Usage, check_budget
from kite_gateway.core.signals.model import Side
from kite_gateway.core.signals.sizing import Leg
from kite_gateway.core.signals.strategies import Budget, Strategy
from kite_gateway.errors import Reason, Status


def _strategy(**budget: object) -> Strategy:
    return Strategy("momentum", accounts=("A",), budget=Budget(**budget))  # type: ignore[arg-type]


def _leg(capital: str = "1000", reduces: bool = False) -> Leg:
    return Leg("A", Side.BUY, 10, "MARKET", Decimal(0), "MIS", "DAY", Decimal(capital), reduces)


def _refused(strategy: Strategy, usage: Usage, legs: list[Leg]) -> Refusal:
    refusal = check_budget(strategy, usage, legs)
    assert refusal is not None
    return refusal


def test_no_budget_set_lets_everything_through() -> None:
    assert check_budget(_strategy(), Usage(Decimal(10**9), 10**6, Decimal(-(10**9))), [_leg()] * 5) is None


def test_capital_up_to_the_limit_passes_and_one_rupee_over_is_refused() -> None:
    strategy = _strategy(max_capital=Decimal(10_000))
    assert check_budget(strategy, Usage(capital_deployed=Decimal(8000)), [_leg("1000"), _leg("1000")]) is None
    refusal = _refused(strategy, Usage(capital_deployed=Decimal(8000)), [_leg("1000"), _leg("1001")])
    assert (refusal.budget, refusal.limit, refusal.current, refusal.requested) == (
        "max_capital",
        Decimal(10_000),
        Decimal(8000),
        Decimal(2001),
    )
    assert "2001 more capital on top of 8000" in refusal.message and "2000 left" in refusal.message


def test_legs_that_only_reduce_add_no_capital_even_over_the_limit() -> None:
    strategy = _strategy(max_capital=Decimal(100))
    assert check_budget(strategy, Usage(capital_deployed=Decimal(500)), [_leg("0", reduces=True)]) is None


def test_orders_up_to_the_day_limit_pass_and_one_more_is_refused() -> None:
    strategy = _strategy(max_orders_per_day=10)
    assert check_budget(strategy, Usage(orders_today=8), [_leg(), _leg()]) is None
    refusal = _refused(strategy, Usage(orders_today=8), [_leg(), _leg(), _leg()])
    assert (refusal.budget, refusal.limit, refusal.current, refusal.requested) == (
        "max_orders_per_day",
        Decimal(10),
        Decimal(8),
        Decimal(3),
    )
    assert "3 orders on top of 8" in refusal.message and "(2 left)" in refusal.message


def test_orders_that_reduce_still_count_against_the_order_budget() -> None:
    assert _refused(_strategy(max_orders_per_day=1), Usage(orders_today=1), [_leg(reduces=True)]).budget == (
        "max_orders_per_day"
    )


def test_a_spent_loss_budget_refuses_a_signal_that_opens() -> None:
    refusal = _refused(_strategy(max_loss_per_day=Decimal(5000)), Usage(pnl_today=Decimal(-5000)), [_leg()])
    assert (refusal.budget, refusal.current) == ("max_loss_per_day", Decimal(5000))
    assert "only signals that reduce positions pass" in refusal.message


def test_a_spent_loss_budget_still_lets_a_signal_that_only_reduces() -> None:
    strategy = _strategy(max_loss_per_day=Decimal(5000))
    assert check_budget(strategy, Usage(pnl_today=Decimal(-9000)), [_leg("0", reduces=True)]) is None


def test_a_loss_under_the_budget_and_any_profit_pass() -> None:
    strategy = _strategy(max_loss_per_day=Decimal(5000))
    assert check_budget(strategy, Usage(pnl_today=Decimal("-4999.95")), [_leg()]) is None
    assert check_budget(strategy, Usage(pnl_today=Decimal(20_000)), [_leg()]) is None
    assert Usage(pnl_today=Decimal(300)).loss_today == 0


def test_the_loss_budget_is_reported_before_capital_and_orders() -> None:
    strategy = _strategy(max_capital=Decimal(1), max_orders_per_day=1, max_loss_per_day=Decimal(1))
    usage = Usage(Decimal(10), 5, Decimal(-10))
    assert _refused(strategy, usage, [_leg()]).budget == "max_loss_per_day"
    assert _refused(_strategy(max_capital=Decimal(1), max_orders_per_day=1), usage, [_leg()]).budget == "max_capital"


def test_a_refusal_becomes_a_failed_precondition_with_its_numbers() -> None:
    error = _refused(_strategy(max_orders_per_day=1), Usage(orders_today=1), [_leg()]).error()
    assert (error.code, error.reason) == (Status.FAILED_PRECONDITION, Reason.RISK_LIMIT_BREACHED)
    assert error.metadata == {"strategy_id": "momentum", "budget": "max_orders_per_day", "limit": "1",
                              "current": "1", "requested": "1"}  # fmt: skip
    assert "strategy 'momentum'" in error.message


def test_a_signal_with_no_legs_passes() -> None:
    assert check_budget(_strategy(max_orders_per_day=1, max_loss_per_day=Decimal(1)), Usage(
        orders_today=1, pnl_today=Decimal(-5)), []) is None  # fmt: skip

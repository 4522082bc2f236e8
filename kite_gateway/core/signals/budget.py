"""A strategy's day budget, checked against everything a signal would send before any of it is sent:
a signal is routed whole or refused whole, never cut down to fit.

Three budgets, each optional (strategies.Budget): `max_capital`, the capital the strategy has deployed
today plus what the signal's legs add (sizing.Leg.capital: only the parts that open or grow
positions); `max_orders_per_day`, the orders placed for it today plus one per leg; `max_loss_per_day`,
its day loss over every account (realised + unrealised: minus the day P&L when that is negative).
Once the loss budget is spent, only signals whose every leg reduces a position pass, so a strategy
can still get out. The first budget a signal breaks is reported in this order: loss, capital,
orders, with the limit, the usage and the request, so a person can tell what to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kite_gateway.core.signals.sizing import Leg
from kite_gateway.core.signals.strategies import Strategy
from kite_gateway.errors import GatewayError, Reason, Status


@dataclass(frozen=True)
class Usage:
    """A strategy's use of its budget today, over every account it trades."""

    capital_deployed: Decimal = Decimal(0)
    orders_today: int = 0
    pnl_today: Decimal = Decimal(0)  # realised + unrealised; a loss is negative

    @property
    def loss_today(self) -> Decimal:
        return max(Decimal(0), -self.pnl_today)


@dataclass(frozen=True)
class Refusal:
    strategy_id: str
    budget: str  # the strategies-file key: max_loss_per_day, max_capital or max_orders_per_day
    limit: Decimal
    current: Decimal
    requested: Decimal
    message: str

    def error(self) -> GatewayError:
        """FAILED_PRECONDITION: the signal is well formed; the day's usage stands in its way."""
        return GatewayError(
            Status.FAILED_PRECONDITION,
            Reason.RISK_LIMIT_BREACHED,
            self.message,
            {"strategy_id": self.strategy_id, "budget": self.budget, "limit": str(self.limit),
             "current": str(self.current), "requested": str(self.requested)},
        )  # fmt: skip


def check_budget(strategy: Strategy, usage: Usage, legs: Sequence[Leg]) -> Refusal | None:
    """None when the legs fit every budget; otherwise the first budget they break."""
    budget = strategy.budget
    where = f"strategy {strategy.id!r}"
    opening = [leg for leg in legs if not leg.reduces_only]
    if budget.max_loss_per_day is not None and opening and usage.loss_today >= budget.max_loss_per_day:
        return Refusal(
            strategy.id, "max_loss_per_day", budget.max_loss_per_day, usage.loss_today, Decimal(0),
            f"{where} has lost {usage.loss_today} today, at or over its max_loss_per_day of "
            f"{budget.max_loss_per_day}: only signals that reduce positions pass until tomorrow or until "
            "the limit is raised in the strategies file",
        )  # fmt: skip
    requested = sum((leg.capital for leg in legs), Decimal(0))
    if budget.max_capital is not None and requested > 0 and usage.capital_deployed + requested > budget.max_capital:
        room = max(Decimal(0), budget.max_capital - usage.capital_deployed)
        return Refusal(
            strategy.id, "max_capital", budget.max_capital, usage.capital_deployed, requested,
            f"{where} would deploy {requested} more capital on top of {usage.capital_deployed} today, over its "
            f"max_capital of {budget.max_capital} ({room} left): send a smaller signal or raise the limit",
        )  # fmt: skip
    if budget.max_orders_per_day is not None and usage.orders_today + len(legs) > budget.max_orders_per_day:
        left = max(0, budget.max_orders_per_day - usage.orders_today)
        return Refusal(
            strategy.id, "max_orders_per_day", Decimal(budget.max_orders_per_day), Decimal(usage.orders_today),
            Decimal(len(legs)),
            f"{where} would place {len(legs)} orders on top of {usage.orders_today} today, over its "
            f"max_orders_per_day of {budget.max_orders_per_day} ({left} left): raise the limit in the "
            "strategies file, or close the strategy's positions with SquareOff",
        )  # fmt: skip
    return None

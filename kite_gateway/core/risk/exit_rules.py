"""The exit rules of one scope (an account or a strategy) over its P&L and margin utilisation: which
rule a new value crosses, each at most once per trading day (re-armed when the day changes).
Pure: no I/O, so it runs on every tick."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from kite_gateway.core.risk.exits_config import ExitRules

ACCOUNT = "account"
STRATEGY = "strategy"


class ExitRule(StrEnum):
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    PROFIT_LOCK = "profit_lock"
    MARGIN_UTILISATION = "max_margin_utilisation"


@dataclass(frozen=True, slots=True)
class Crossing:
    """A rule crossed: its threshold and a reason a person reads (kill switch, audit, alert)."""

    rule: ExitRule
    threshold: Decimal
    reason: str


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


@dataclass
class ScopeRules:
    """One scope's rules and where it stands today: P&L, the profit lock's peak, utilisation, and
    the rules already crossed (a crossed rule does not cross again until the next trading day)."""

    kind: str  # ACCOUNT or STRATEGY
    scope_id: str
    rules: ExitRules
    day: date
    pnl: Decimal = Decimal(0)
    peak: Decimal | None = None  # the highest P&L since the profit lock armed (None: not armed)
    utilisation: Decimal | None = None  # None: margins not read (or not applicable)
    crossed: dict[ExitRule, str] = field(default_factory=dict)  # rule -> reason, today

    def new_day(self, day: date) -> None:
        """The next trading day: every rule is armed again, and the lock's peak forgotten."""
        if day != self.day:
            self.day, self.peak, self.crossed = day, None, {}

    @property
    def label(self) -> str:
        return f"{self.kind} {self.scope_id}"

    def evaluate(self, pnl: Decimal, utilisation: Decimal | None) -> list[Crossing]:
        """Take the newest P&L (and utilisation, for an account); the rules it crosses now, once each."""
        self.pnl = pnl
        if utilisation is not None:
            self.utilisation = utilisation
        rules, found = self.rules, []
        if rules.daily_loss_limit is not None and pnl <= -rules.daily_loss_limit:
            found.append(
                Crossing(
                    ExitRule.DAILY_LOSS_LIMIT,
                    -rules.daily_loss_limit,
                    f"daily loss limit of {self.label} crossed: P&L {money(pnl)} <= -{money(rules.daily_loss_limit)}",
                )
            )
        if rules.profit_lock_activate is not None:
            if (self.peak is None and pnl >= rules.profit_lock_activate) or (self.peak is not None and pnl > self.peak):
                self.peak = pnl
            floor = rules.lock_floor(self.peak) if self.peak is not None else None
            if self.peak is not None and floor is not None and pnl < floor:
                found.append(
                    Crossing(
                        ExitRule.PROFIT_LOCK,
                        floor,
                        f"trailing profit lock of {self.label} crossed: P&L {money(pnl)} fell below "
                        f"{money(floor)} (peak {money(self.peak)})",
                    )
                )
        ceiling = rules.max_margin_utilisation
        if ceiling is not None and self.utilisation is not None and self.utilisation >= ceiling:
            found.append(
                Crossing(
                    ExitRule.MARGIN_UTILISATION,
                    ceiling,
                    f"margin utilisation of {self.label} crossed: {self.utilisation:.4f} >= {ceiling}",
                )
            )
        fresh = [crossing for crossing in found if crossing.rule not in self.crossed]
        for crossing in fresh:
            self.crossed[crossing.rule] = crossing.reason
        return fresh

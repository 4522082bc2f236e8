"""Strategy signals, the pure core: what a signal is and the states it moves through (model), the
configured strategies (strategies), each account's order from a signal (sizing), the strategies'
day budgets (budget) and the human approval window (approval). Storage and RPCs build on these."""

from kite_gateway.core.signals.model import (
    Side,
    Signal,
    SignalState,
    Urgency,
    UrgencyKind,
    Validity,
    can_move,
    check_move,
    next_states,
    validate,
)
from kite_gateway.core.signals.strategies import (
    Approval,
    Budget,
    Sizing,
    SizingMode,
    Strategy,
    StrategyBook,
    StrategyConfigError,
)

__all__ = [
    "Approval",
    "Budget",
    "Side",
    "Signal",
    "SignalState",
    "Sizing",
    "SizingMode",
    "Strategy",
    "StrategyBook",
    "StrategyConfigError",
    "Urgency",
    "UrgencyKind",
    "Validity",
    "can_move",
    "check_move",
    "next_states",
    "validate",
]

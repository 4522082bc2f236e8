"""Strategy signals, the pure core: what a signal is and the states it moves through (model), the
configured strategies (strategies), each account's order from a signal (sizing), the strategies'
day budgets (budget) and the human approval window (approval). Storage and RPCs build on these."""

from kite_gateway.core.signals.approval import ApprovalDesk, Clock, Decision, PendingApproval
from kite_gateway.core.signals.budget import Refusal, Usage, check_budget
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
    routing_outcome,
    validate,
)
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
    "AccountView",
    "Approval",
    "ApprovalDesk",
    "Budget",
    "Clock",
    "Decision",
    "Leg",
    "PendingApproval",
    "Refusal",
    "Side",
    "Signal",
    "SignalState",
    "Sizing",
    "SizingMode",
    "Skip",
    "Strategy",
    "StrategyBook",
    "StrategyConfigError",
    "Urgency",
    "UrgencyKind",
    "Usage",
    "Validity",
    "can_move",
    "check_budget",
    "check_move",
    "limit_price",
    "next_states",
    "reference_price",
    "round_to_tick",
    "routing_outcome",
    "size_all",
    "size_leg",
    "validate",
]

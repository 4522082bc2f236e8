"""Risk controls: configured limits per account checked before each order, kill switches, and
automatic exits (P&L marked to live ticks against loss limits, profit locks and margin ceilings)."""

from kite_gateway.core.risk.checks import OrderIntent, Positions, PreTradeRisk
from kite_gateway.core.risk.exit_rules import ExitRule
from kite_gateway.core.risk.exits import (
    ExitEvent,
    ExitPorts,
    ExitStatus,
    ExitWatch,
    OnMark,
    PnlMark,
    PriceFeed,
    PriceSink,
    unwatched,
)
from kite_gateway.core.risk.exits_config import ExitBook, ExitConfigError, ExitRules
from kite_gateway.core.risk.kill_switch import GATEWAY, KillSwitches, SwitchState
from kite_gateway.core.risk.limits import RiskBook, RiskConfigError
from kite_gateway.core.risk.pnl import StrategyPosition, Utilisation
from kite_gateway.core.risk.refusals import Refused

__all__ = [
    "GATEWAY",
    "ExitBook",
    "ExitConfigError",
    "ExitEvent",
    "ExitPorts",
    "ExitRule",
    "ExitRules",
    "ExitStatus",
    "ExitWatch",
    "KillSwitches",
    "OnMark",
    "OrderIntent",
    "PnlMark",
    "Positions",
    "PreTradeRisk",
    "PriceFeed",
    "PriceSink",
    "Refused",
    "RiskBook",
    "RiskConfigError",
    "StrategyPosition",
    "SwitchState",
    "Utilisation",
    "unwatched",
]

"""Pre-trade risk controls: configured limits per account, and kill switches."""

from kite_gateway.core.risk.checks import OrderIntent, Positions, PreTradeRisk
from kite_gateway.core.risk.kill_switch import GATEWAY, KillSwitches, SwitchState
from kite_gateway.core.risk.limits import RiskBook, RiskConfigError

__all__ = [
    "GATEWAY",
    "KillSwitches",
    "OrderIntent",
    "Positions",
    "PreTradeRisk",
    "RiskBook",
    "RiskConfigError",
    "SwitchState",
]

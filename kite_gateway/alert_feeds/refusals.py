"""Risk-refusal alerts' events: each order the risk controls refuse (a limit of PreTradeRisk, or an
engaged kill switch) becomes a RiskRefusalEvent; the engine counts them per account in a window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kite_gateway.alert_feeds.outlet import Emit, Outlet
from kite_gateway.core.alerts import RiskRefusalEvent


class RefusalAlerts:
    """Wire: `risk.refusal_listeners.append(alerts.refused)` and
    `kill_switches.refusal_listeners.append(alerts.refused)`. May be called from Kite's worker
    thread (a kill switch's last check): the event is then handed to the loop it was built in."""

    def __init__(self, emit: Emit, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.emit = Outlet(emit)
        self.clock = clock

    def refused(self, account_id: str, reason: str) -> None:
        self.emit(RiskRefusalEvent(account_id=account_id, reason=reason, at=self.clock()))

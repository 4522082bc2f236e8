"""P&L and margin alerts' events, from the automatic exits' mark-to-market (ExitWatch, marked to
live ticks): each change of an account's or a strategy's P&L becomes a PnlEvent, and each change of
an account's margin utilisation (used / total) a MarginEvent. There is no second P&L engine: with
no [exits] in the risk file there is no ExitWatch, and so no events (see the package's notes)."""

from __future__ import annotations

from decimal import Decimal

from kite_gateway.alert_feeds.outlet import Emit, Outlet
from kite_gateway.core.alerts import AutomaticExitEvent, MarginEvent, PnlEvent, PnlOf
from kite_gateway.core.risk import ExitEvent, PnlMark


class PnlAlerts:
    """Wire: `exits.mark_listeners.append(PnlAlerts(center.offer).marked)` (when App.exits is set)."""

    def __init__(self, emit: Emit) -> None:
        self.emit = Outlet(emit)
        self._pnl: dict[tuple[str, str], Decimal] = {}
        self._utilisation: dict[str, Decimal] = {}

    def marked(self, mark: PnlMark) -> None:
        scope = PnlOf(mark.scope)
        if self._pnl.get((scope, mark.scope_id)) != mark.pnl:
            self._pnl[(scope, mark.scope_id)] = mark.pnl
            self.emit(PnlEvent(scope=scope, scope_id=mark.scope_id, pnl=mark.pnl, at=mark.at))
        if scope is PnlOf.ACCOUNT and mark.utilisation is not None:
            ratio = mark.utilisation.ratio
            if self._utilisation.get(mark.scope_id) != ratio:
                self._utilisation[mark.scope_id] = ratio
                self.emit(MarginEvent(account_id=mark.scope_id, utilisation=ratio, at=mark.at))


class ExitAlerts:
    """Each automatic exit carried out (ExitWatch.exit_listeners) as an AutomaticExitEvent."""

    def __init__(self, emit: Emit) -> None:
        self.emit = Outlet(emit)

    def carried_out(self, event: ExitEvent) -> None:
        self.emit(AutomaticExitEvent(event.event_id, event.scope, event.scope_id, event.rule.value,
                                     event.reason, event.outcome, event.at))  # fmt: skip

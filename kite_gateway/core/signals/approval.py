"""The approval window of a strategy that needs a person to approve each signal
(strategies.Approval): a signal waits in PENDING_APPROVAL from when it was received until
`timeout_seconds` later; at the deadline itself and after it, it is EXPIRED and can no longer be
approved or rejected. Only a pending signal takes a decision, and only once.

The clock is injected, so the deadline is decided by the same clock in the use case, the sweeper that
expires what nobody decided (`due`) and the tests. Nothing here sleeps or stores: the caller persists
the state each call returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kite_gateway.core.signals.model import Signal, SignalState
from kite_gateway.core.signals.strategies import Strategy
from kite_gateway.errors import GatewayError, Reason, Status

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class PendingApproval:
    strategy_id: str
    signal_id: str
    requested_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class Decision:
    """What a decision did: the state to store, and the error to answer with when it was too late."""

    state: SignalState
    error: GatewayError | None = None


class ApprovalDesk:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def open(self, strategy: Strategy, signal: Signal) -> PendingApproval | None:
        """The signal's approval window, from now; None when its strategy needs no approval."""
        if not strategy.approval.required:
            return None
        now = self.clock()
        return PendingApproval(strategy.id, signal.signal_id, now,
                               now + timedelta(seconds=strategy.approval.timeout_seconds))  # fmt: skip

    def state(self, pending: PendingApproval, stored: SignalState) -> SignalState:
        """The signal's state now: a pending one past its deadline is EXPIRED even before the sweeper ran."""
        if stored is SignalState.PENDING_APPROVAL and pending.expired(self.clock()):
            return SignalState.EXPIRED
        return stored

    def seconds_left(self, pending: PendingApproval) -> float:
        return max(0.0, (pending.expires_at - self.clock()).total_seconds())

    def approve(self, pending: PendingApproval, stored: SignalState) -> Decision:
        return self._decide(pending, stored, SignalState.APPROVED)

    def reject(self, pending: PendingApproval, stored: SignalState) -> Decision:
        return self._decide(pending, stored, SignalState.REJECTED)

    def due(self, pending: Iterable[PendingApproval]) -> list[PendingApproval]:
        """The windows that have closed: their signals are to be stored EXPIRED."""
        now = self.clock()
        return [p for p in pending if p.expired(now)]

    def _decide(self, pending: PendingApproval, stored: SignalState, to: SignalState) -> Decision:
        verb = "approved" if to is SignalState.APPROVED else "rejected"
        details = {"strategy_id": pending.strategy_id, "signal_id": pending.signal_id, "state": stored.value}
        if stored is not SignalState.PENDING_APPROVAL:
            raise GatewayError(Status.FAILED_PRECONDITION, Reason.UNSPECIFIED,
                               f"signal {pending.signal_id!r} is {stored.value}: only a signal pending approval "
                               f"can be {verb}", details)  # fmt: skip
        if pending.expired(self.clock()):
            error = GatewayError(Status.FAILED_PRECONDITION, Reason.UNSPECIFIED,
                                 f"signal {pending.signal_id!r} expired at {pending.expires_at.isoformat()} before it "
                                 f"was {verb}; send a new signal", {**details, "state": "EXPIRED"})  # fmt: skip
            return Decision(SignalState.EXPIRED, error)
        return Decision(to)

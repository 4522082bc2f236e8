"""The approval window on an injected clock: open until the timeout, expired at the deadline itself,
decided only while pending and only once, and no window for a strategy that needs no approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kite_gateway.core.signals.approval import ApprovalDesk, Decision, PendingApproval
from kite_gateway.core.signals.model import Side, Signal, SignalState
from kite_gateway.core.signals.strategies import Approval, Strategy
from kite_gateway.errors import GatewayError, Status

START = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
SIGNAL = Signal("momentum", "sig-1", "NSE", "INFY", side=Side.BUY, quantity=1)
STRATEGY = Strategy("momentum", accounts=("A",), approval=Approval(True, 120))
PENDING = SignalState.PENDING_APPROVAL


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _window(clock: Clock) -> tuple[ApprovalDesk, PendingApproval]:
    desk = ApprovalDesk(clock)
    pending = desk.open(STRATEGY, SIGNAL)
    assert pending is not None
    return desk, pending


def test_a_window_opens_now_and_closes_after_the_timeout(clock: Clock) -> None:
    desk, pending = _window(clock)
    assert (pending.requested_at, pending.expires_at) == (START, START + timedelta(seconds=120))
    assert (pending.strategy_id, pending.signal_id) == ("momentum", "sig-1")
    assert desk.seconds_left(pending) == 120.0


def test_a_strategy_without_required_approval_opens_no_window(clock: Clock) -> None:
    strategy = Strategy("plain", accounts=("A",), approval=Approval(False, 120))
    assert ApprovalDesk(clock).open(strategy, SIGNAL) is None


def test_approval_just_before_the_deadline_is_approved(clock: Clock) -> None:
    desk, pending = _window(clock)
    clock.advance(119.999)
    assert desk.state(pending, PENDING) is PENDING
    assert desk.approve(pending, PENDING) == Decision(SignalState.APPROVED)


def test_rejection_while_pending_is_rejected(clock: Clock) -> None:
    desk, pending = _window(clock)
    assert desk.reject(pending, PENDING) == Decision(SignalState.REJECTED)


def test_at_the_deadline_the_signal_is_expired_and_approving_it_says_so(clock: Clock) -> None:
    desk, pending = _window(clock)
    clock.advance(120)
    assert desk.state(pending, PENDING) is SignalState.EXPIRED
    assert desk.seconds_left(pending) == 0.0
    decision = desk.approve(pending, PENDING)
    assert decision.state is SignalState.EXPIRED and decision.error is not None
    assert decision.error.code is Status.FAILED_PRECONDITION
    assert "expired at 2026-12-03T09:32:00+00:00 before it was approved" in decision.error.message


def test_rejecting_after_the_deadline_also_expires_it(clock: Clock) -> None:
    desk, pending = _window(clock)
    clock.advance(500)
    assert desk.reject(pending, PENDING).state is SignalState.EXPIRED


@pytest.mark.parametrize("stored", [s for s in SignalState if s is not SignalState.PENDING_APPROVAL])
def test_only_a_pending_signal_takes_a_decision(clock: Clock, stored: SignalState) -> None:
    desk, pending = _window(clock)
    with pytest.raises(GatewayError) as caught:
        desk.approve(pending, stored)
    assert caught.value.code is Status.FAILED_PRECONDITION
    assert f"is {stored.value}: only a signal pending approval can be approved" in caught.value.message


def test_a_signal_already_approved_cannot_be_rejected(clock: Clock) -> None:
    desk, pending = _window(clock)
    state = desk.approve(pending, PENDING).state
    with pytest.raises(GatewayError, match="is APPROVED: only a signal pending approval can be rejected"):
        desk.reject(pending, state)


def test_the_state_of_a_decided_signal_is_kept_after_the_deadline(clock: Clock) -> None:
    desk, pending = _window(clock)
    clock.advance(1000)
    assert desk.state(pending, SignalState.APPROVED) is SignalState.APPROVED


def test_due_lists_only_the_closed_windows(clock: Clock) -> None:
    desk = ApprovalDesk(clock)
    first = desk.open(STRATEGY, SIGNAL)
    clock.advance(60)
    second = desk.open(STRATEGY, Signal("momentum", "sig-2", "NSE", "INFY", side=Side.SELL, quantity=1))
    assert first is not None and second is not None
    assert desk.due([first, second]) == []
    clock.advance(60)
    assert desk.due([first, second]) == [first]
    clock.advance(60)
    assert desk.due([first, second]) == [first, second]

"""A signal is a change (side and quantity) or a target position, never both; its urgency's fields
match its kind; and its states move only forward along the documented graph."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

import pytest

from kite_gateway.core.signals.model import (
    Side,
    Signal,
    SignalState,
    Urgency,
    UrgencyKind,
    can_move,
    check_move,
    next_states,
    routing_outcome,
    validate,
)
from kite_gateway.errors import GatewayError, Status

DELTA = Signal("momentum", "sig-1", "NSE", "INFY", side=Side.BUY, quantity=10)
TARGET = Signal("momentum", "sig-2", "NFO", "NIFTY26DECFUT", target_position=-2)


def _field(signal: Signal) -> str:
    with pytest.raises(GatewayError) as caught:
        validate(signal)
    assert caught.value.code is Status.INVALID_ARGUMENT
    return caught.value.field_violations[0][0]


def test_a_delta_signal_and_a_target_signal_are_both_valid() -> None:
    validate(DELTA)
    validate(TARGET)
    validate(replace(TARGET, target_position=0))  # flat is a target too
    assert TARGET.is_target and not DELTA.is_target


def test_a_signal_with_both_a_target_and_a_quantity_is_refused_naming_target_position() -> None:
    assert _field(replace(DELTA, target_position=5)) == "target_position"


def test_a_signal_with_neither_a_target_nor_a_quantity_is_refused() -> None:
    assert _field(replace(DELTA, side=None, quantity=None)) == "target_position"


def test_a_quantity_without_a_side_is_refused_naming_side() -> None:
    assert _field(replace(DELTA, side=None)) == "side"


@pytest.mark.parametrize("quantity", [0, -3])
def test_a_delta_quantity_must_be_positive(quantity: int) -> None:
    assert _field(replace(DELTA, quantity=quantity)) == "quantity"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"strategy_id": ""}, "strategy_id"),
        ({"strategy_id": "has space"}, "strategy_id"),
        ({"signal_id": ""}, "signal_id"),
        ({"signal_id": "x" * 65}, "signal_id"),
        ({"exchange": ""}, "instrument"),
        ({"tradingsymbol": ""}, "instrument"),
        ({"product": "BO"}, "product"),
        ({"price_hint": Decimal(0)}, "price_hint"),
        ({"price_hint": Decimal("NaN")}, "price_hint"),
        ({"stop_distance": Decimal(-1)}, "stop_distance"),
        ({"urgency": Urgency(UrgencyKind.AT_PRICE)}, "urgency.price"),
        ({"urgency": Urgency.at_price(Decimal(0))}, "urgency.price"),
        ({"urgency": Urgency(UrgencyKind.MARKET, price=Decimal(1))}, "urgency.price"),
        ({"urgency": Urgency(UrgencyKind.MARKET, offset_ticks=2)}, "urgency.offset_ticks"),
    ],
)
def test_each_bad_field_is_named(changes: dict[str, object], field: str) -> None:
    assert _field(replace(DELTA, **changes)) == field  # type: ignore[arg-type]


def test_urgencies_of_each_kind_validate() -> None:
    for urgency in (
        Urgency.market(),
        Urgency.limit_offset(3),
        Urgency.limit_offset(-1),
        Urgency.at_price(Decimal("1.5")),
    ):
        validate(replace(DELTA, urgency=urgency))


def test_the_documented_paths_are_allowed() -> None:
    s = SignalState
    for path in (
        [s.RECEIVED, s.ROUTING, s.ROUTED],
        [s.RECEIVED, s.PENDING_APPROVAL, s.APPROVED, s.ROUTING, s.PARTIALLY_ROUTED],
        [s.RECEIVED, s.PENDING_APPROVAL, s.EXPIRED],
        [s.RECEIVED, s.PENDING_APPROVAL, s.REJECTED],
        [s.RECEIVED, s.PENDING_APPROVAL, s.APPROVED, s.REFUSED_BUDGET],
        [s.RECEIVED, s.REFUSED_BUDGET],
        [s.RECEIVED, s.SKIPPED],
        [s.RECEIVED, s.ROUTING, s.FAILED],
    ):
        for old, new in itertools.pairwise(path):
            assert can_move(old, new), (old, new)


def test_a_pending_signal_cannot_be_routed_without_approval() -> None:
    assert not can_move(SignalState.PENDING_APPROVAL, SignalState.ROUTING)


def test_an_expired_or_rejected_signal_cannot_be_approved_later() -> None:
    assert not can_move(SignalState.EXPIRED, SignalState.APPROVED)
    assert not can_move(SignalState.REJECTED, SignalState.APPROVED)


def test_terminal_states_have_no_moves_and_every_state_is_reachable_from_received() -> None:
    terminal = {s for s in SignalState if s.terminal}
    assert terminal == {SignalState.REJECTED, SignalState.EXPIRED, SignalState.REFUSED_BUDGET, SignalState.SKIPPED,
                        SignalState.ROUTED, SignalState.PARTIALLY_ROUTED, SignalState.FAILED}  # fmt: skip
    seen, frontier = {SignalState.RECEIVED}, [SignalState.RECEIVED]
    while frontier:
        for nxt in next_states(frontier.pop()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(SignalState)


def test_no_state_moves_back_to_received_or_to_itself() -> None:
    for state in SignalState:
        assert not can_move(state, SignalState.RECEIVED)
        assert not can_move(state, state)


def test_a_forbidden_move_is_a_failed_precondition_naming_both_states() -> None:
    with pytest.raises(GatewayError) as caught:
        check_move(SignalState.ROUTED, SignalState.ROUTING)
    assert caught.value.code is Status.FAILED_PRECONDITION
    assert "ROUTED" in caught.value.message and "ROUTING" in caught.value.message
    check_move(SignalState.RECEIVED, SignalState.ROUTING)


def test_routing_ends_routed_partially_routed_or_failed_by_what_was_placed() -> None:
    assert routing_outcome(3, 0) is SignalState.ROUTED
    assert routing_outcome(2, 1) is SignalState.PARTIALLY_ROUTED
    assert routing_outcome(0, 3) is SignalState.FAILED
    with pytest.raises(ValueError, match="at least one order"):
        routing_outcome(0, 0)

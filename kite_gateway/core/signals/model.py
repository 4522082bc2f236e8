"""A strategy's signal as the gateway takes it, and the states a signal goes through.

A signal says what a strategy wants in one instrument, either as a change (`side` and `quantity`:
buy or sell this many) or as a position to hold (`target_position`: signed, negative is short; the
gateway orders the difference from what each account holds). Exactly one of the two forms. The
quantities are the strategy's reference quantities: each account's sizing
(kite_gateway/core/signals/strategies.py) turns them into that account's order.

Urgency chooses the order type. MARKET: a market order. LIMIT_OFFSET: a limit order `offset_ticks`
tick sizes from the reference price (the price hint, else the last price) on the passive side (below
it for a BUY, above it for a SELL); a negative offset crosses the reference price by that many ticks.
Ticks, not percent, because they are exact and are what the exchange prices in. AT_PRICE: a limit
order at `price`. Limit prices are rounded to the tick size toward the passive side.

`signal_id` is the caller's idempotency key: the same id again is the same signal (a retry), never a
second one.

States, and the only moves between them (`can_move`):

    RECEIVED          -> PENDING_APPROVAL | ROUTING | REFUSED_BUDGET | SKIPPED
    PENDING_APPROVAL  -> APPROVED | REJECTED | EXPIRED
    APPROVED          -> ROUTING | REFUSED_BUDGET | SKIPPED
    ROUTING           -> ROUTED | PARTIALLY_ROUTED | FAILED    (routing_outcome)
    REJECTED, EXPIRED, REFUSED_BUDGET, SKIPPED, ROUTED, PARTIALLY_ROUTED, FAILED: terminal

RECEIVED: stored, sized and budget-checked next. PENDING_APPROVAL: the strategy needs a person to
approve it before its deadline (kite_gateway/core/signals/approval.py). APPROVED: approved, to be
budget-checked again (the day's usage may have moved while it waited). REFUSED_BUDGET: over one of
the strategy's budgets (kite_gateway/core/signals/budget.py). SKIPPED: no account had anything to
order (every leg sized to zero, or every account already at the target). ROUTING: its orders are
being placed. ROUTED: every order was placed; PARTIALLY_ROUTED: some were; FAILED: none was.
A budget refusal at RECEIVED spares a person an approval that could not be routed anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from kite_gateway.errors import GatewayError, Reason, Status, invalid

SIGNAL_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
PRODUCTS = frozenset({"CNC", "MIS", "NRML", "MTF"})
STRATEGY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Side(Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class UrgencyKind(Enum):
    MARKET = "MARKET"
    LIMIT_OFFSET = "LIMIT_OFFSET"
    AT_PRICE = "AT_PRICE"


@dataclass(frozen=True)
class Urgency:
    kind: UrgencyKind = UrgencyKind.MARKET
    offset_ticks: int = 0  # LIMIT_OFFSET: ticks on the passive side of the reference price
    price: Decimal | None = None  # AT_PRICE only

    @classmethod
    def market(cls) -> Urgency:
        return cls()

    @classmethod
    def limit_offset(cls, ticks: int) -> Urgency:
        return cls(UrgencyKind.LIMIT_OFFSET, offset_ticks=ticks)

    @classmethod
    def at_price(cls, price: Decimal) -> Urgency:
        return cls(UrgencyKind.AT_PRICE, price=price)


class Validity(Enum):
    DAY = "DAY"
    IOC = "IOC"


@dataclass(frozen=True)
class Signal:
    strategy_id: str
    signal_id: str
    exchange: str
    tradingsymbol: str
    side: Side | None = None  # with quantity: a change
    quantity: int | None = None
    target_position: int | None = None  # or a signed position to hold
    price_hint: Decimal | None = None
    urgency: Urgency = Urgency()
    validity: Validity = Validity.DAY
    product: str = ""  # "" : the strategy's product
    stop_distance: Decimal | None = None  # rupees per unit, for risk-per-trade sizing

    @property
    def is_target(self) -> bool:
        return self.target_position is not None


def _positive_price(value: Decimal | None, field: str) -> None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise invalid(field, "must be a price above 0")


def validate(signal: Signal) -> None:
    """Raises INVALID_ARGUMENT naming the first field that is wrong."""
    if not STRATEGY_ID.fullmatch(signal.strategy_id):
        raise invalid("strategy_id", "required: 1-64 letters, digits and _ . - (a configured strategy)")
    if not SIGNAL_ID.fullmatch(signal.signal_id):
        raise invalid("signal_id", "required: 1-64 characters of letters, digits and . _ : - (the idempotency key)")
    if not signal.exchange or not signal.tradingsymbol:
        raise invalid("instrument", "name both the exchange and the tradingsymbol")
    delta = signal.side is not None or signal.quantity is not None
    if delta == signal.is_target:
        raise invalid("target_position", "give either a target position or a side and quantity, not both")
    if delta:
        if signal.side is None:
            raise invalid("side", "required with a quantity: BUY or SELL")
        if signal.quantity is None or signal.quantity <= 0:
            raise invalid("quantity", "must be a whole number above 0")
    if signal.product and signal.product.upper() not in PRODUCTS:
        raise invalid("product", f"must be one of {sorted(PRODUCTS)}, or unset for the strategy's product")
    _positive_price(signal.price_hint, "price_hint")
    _positive_price(signal.stop_distance, "stop_distance")
    urgency = signal.urgency
    if urgency.kind is UrgencyKind.AT_PRICE:
        if urgency.price is None:
            raise invalid("urgency.price", "required for AT_PRICE")
        _positive_price(urgency.price, "urgency.price")
    elif urgency.price is not None:
        raise invalid("urgency.price", "only AT_PRICE takes a price")
    if urgency.kind is not UrgencyKind.LIMIT_OFFSET and urgency.offset_ticks:
        raise invalid("urgency.offset_ticks", "only LIMIT_OFFSET takes an offset")


class SignalState(Enum):
    RECEIVED = "RECEIVED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    REFUSED_BUDGET = "REFUSED_BUDGET"
    SKIPPED = "SKIPPED"
    ROUTING = "ROUTING"
    ROUTED = "ROUTED"
    PARTIALLY_ROUTED = "PARTIALLY_ROUTED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return not _MOVES[self]


_S = SignalState
_MOVES: dict[SignalState, frozenset[SignalState]] = {
    _S.RECEIVED: frozenset({_S.PENDING_APPROVAL, _S.ROUTING, _S.REFUSED_BUDGET, _S.SKIPPED}),
    _S.PENDING_APPROVAL: frozenset({_S.APPROVED, _S.REJECTED, _S.EXPIRED}),
    _S.APPROVED: frozenset({_S.ROUTING, _S.REFUSED_BUDGET, _S.SKIPPED}),
    _S.ROUTING: frozenset({_S.ROUTED, _S.PARTIALLY_ROUTED, _S.FAILED}),
    **{s: frozenset() for s in (_S.REJECTED, _S.EXPIRED, _S.REFUSED_BUDGET, _S.SKIPPED)},
    **{s: frozenset() for s in (_S.ROUTED, _S.PARTIALLY_ROUTED, _S.FAILED)},
}


def can_move(old: SignalState, new: SignalState) -> bool:
    return new in _MOVES[old]


def next_states(state: SignalState) -> frozenset[SignalState]:
    return _MOVES[state]


def check_move(old: SignalState, new: SignalState) -> None:
    """Raises FAILED_PRECONDITION when a signal in `old` cannot move to `new`."""
    if not can_move(old, new):
        raise GatewayError(Status.FAILED_PRECONDITION, Reason.UNSPECIFIED,
                           f"a signal that is {old.value} cannot become {new.value}",
                           {"state": old.value, "to": new.value})  # fmt: skip


def routing_outcome(placed: int, failed: int) -> SignalState:
    """The state a ROUTING signal ends in, from how many of its orders were placed and how many failed."""
    if placed < 0 or failed < 0 or placed + failed == 0:
        raise ValueError("a routed signal has at least one order, placed or failed")
    if failed == 0:
        return SignalState.ROUTED
    return SignalState.PARTIALLY_ROUTED if placed else SignalState.FAILED

"""Each account's order from a signal: how many, which side, what type and price. Pure and exact
(Decimal), so the routing use case can size every account first and send nothing unless it all fits.

Quantity. The sizing (kite_gateway/core/signals/strategies.py) turns the signal's reference quantity
(its `quantity`, or the size of its `target_position`) into units: fixed `quantity`; `multiplier`
times it; `fraction` of the account's available margin divided by the price; `risk_amount` divided by
the stop distance (the signal's, else the sizing's). Units are rounded down to whole lots; for a
target the signed result is the position to hold and the order is its difference from the account's
current position (a target of 0 flattens the account whatever its sizing). `max_quantity` then caps
the one order (to whole lots): a target further away is reached by later signals.

Price. The reference price is the signal's AT_PRICE price, else its price hint, else the last price
the caller gives. LIMIT_OFFSET and AT_PRICE orders are LIMIT orders whose price is rounded to the tick
size toward the passive side (down for a BUY, up for a SELL), so rounding never makes an order more
aggressive than asked.

Capital. A leg's `capital` is what it adds to the strategy's deployed capital: the part of the order
that opens or grows a position (not the part that closes one) times its price; the budget check
(kite_gateway/core/signals/budget.py) adds these up.

An account with nothing to order gets a `Skip` with a reason a person can read, never an error: the
other accounts still trade.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from kite_gateway.core.signals.model import Side, Signal, UrgencyKind
from kite_gateway.core.signals.strategies import Sizing, SizingMode, Strategy


@dataclass(frozen=True)
class Leg:
    """One account's order for a signal, in Kite's texts for its enums."""

    account_id: str
    side: Side
    quantity: int
    order_type: str  # "MARKET" or "LIMIT"
    price: Decimal  # the limit price; 0 for a MARKET order
    product: str
    validity: str  # "DAY" or "IOC"
    capital: Decimal  # what the order adds to the deployed capital (its opening part at its price)
    reduces_only: bool  # the order only brings the position toward 0


@dataclass(frozen=True)
class Skip:
    account_id: str
    reason: str


@dataclass(frozen=True)
class AccountView:
    """What sizing needs to know of one account."""

    account_id: str
    available_margin: Decimal | None = None  # Kite's available margin for the segment (None: not known)
    position: int = 0  # the net quantity held in the instrument in the order's product (signed)


def round_to_tick(price: Decimal, tick_size: Decimal, side: Side) -> Decimal:
    """The price on the tick grid, toward the passive side (down for a BUY, up for a SELL)."""
    if tick_size <= 0:
        return price
    rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    return (price / tick_size).to_integral_value(rounding) * tick_size


def reference_price(signal: Signal, last_price: Decimal) -> Decimal:
    if signal.urgency.kind is UrgencyKind.AT_PRICE and signal.urgency.price is not None:
        return signal.urgency.price
    return signal.price_hint if signal.price_hint is not None else last_price


# The furthest a negative LIMIT_OFFSET may cross its reference price, as a share of it: past that an
# offset is a typo, not an urgency (the exchanges' own bands are wider for many contracts).
MAX_CROSS = Decimal("0.05")


def limit_price(signal: Signal, side: Side, last_price: Decimal, tick_size: Decimal) -> Decimal | None:
    """The LIMIT price the urgency asks for; None for a MARKET order."""
    urgency = signal.urgency
    if urgency.kind is UrgencyKind.MARKET:
        return None
    reference = reference_price(signal, last_price)
    if urgency.kind is UrgencyKind.LIMIT_OFFSET:
        reference -= side.sign * urgency.offset_ticks * tick_size
    return round_to_tick(reference, tick_size, side)


def units(sizing: Sizing, reference_quantity: int, price: Decimal, margin: Decimal | None,
          stop_distance: Decimal | None) -> int | str:  # fmt: skip
    """The quantity the sizing gives before lot rounding, or why there is none."""
    if sizing.mode is SizingMode.FIXED:
        return sizing.quantity or 0
    if sizing.mode is SizingMode.MULTIPLIER:
        return int((reference_quantity * (sizing.multiplier or Decimal(0))).to_integral_value(ROUND_FLOOR))
    if sizing.mode is SizingMode.CAPITAL_SHARE:
        if margin is None:
            return "the account's available margin is not known, so a capital share cannot be sized"
        if price <= 0:
            return "no price to divide the capital share by"
        share = max(margin, Decimal(0)) * (sizing.fraction or Decimal(0))
        return int((share / price).to_integral_value(ROUND_FLOOR))
    stop = stop_distance if stop_distance is not None else sizing.stop_distance
    if stop is None or stop <= 0:
        return "risk-per-trade sizing needs a stop distance: give the signal's stop_distance or the sizing's"
    return int(((sizing.risk_amount or Decimal(0)) / stop).to_integral_value(ROUND_FLOOR))


def _opening(current: int, order: int) -> int:
    """How much of a signed order opens or grows a position rather than closing one."""
    after = current + order
    if current == 0:
        return abs(order)
    if after == 0 or (after > 0) == (current > 0):
        return max(0, abs(after) - abs(current))
    return abs(after)  # crossed through 0: the new side is opened


def size_leg(
    strategy: Strategy,
    signal: Signal,
    account: AccountView,
    lot_size: int,
    tick_size: Decimal,
    last_price: Decimal,
) -> Leg | Skip:
    """The account's order for the signal, or a Skip saying why it has none."""
    account_id = account.account_id
    sizing = strategy.sizing_for(account_id)
    lot = max(lot_size, 1)
    price = reference_price(signal, last_price)
    if signal.target_position is not None:
        reference = abs(signal.target_position)
    else:
        reference = signal.quantity or 0
    if signal.target_position == 0:
        wanted = 0
    else:
        sized = units(sizing, reference, price, account.available_margin, signal.stop_distance)
        if isinstance(sized, str):
            return Skip(account_id, sized)
        lots = sized // lot
        if lots == 0:
            return Skip(account_id, f"{sized} units round down to 0 lots of {lot}: nothing to order")
        wanted = lots * lot
    if signal.target_position is not None:
        order = (wanted if signal.target_position >= 0 else -wanted) - account.position
        if order == 0:
            return Skip(account_id, f"already at the target position of {account.position}")
    else:
        order = wanted * (signal.side or Side.BUY).sign
    quantity = abs(order)
    if sizing.max_quantity is not None and quantity > sizing.max_quantity:
        quantity = sizing.max_quantity // lot * lot
        if quantity == 0:
            return Skip(account_id, f"max_quantity {sizing.max_quantity} is less than one lot of {lot}")
        order = quantity if order > 0 else -quantity
    side = Side.BUY if order > 0 else Side.SELL
    limit = limit_price(signal, side, last_price, tick_size)
    if limit is not None and limit <= 0:
        fix = (
            "use a smaller offset"
            if signal.urgency.kind is UrgencyKind.LIMIT_OFFSET
            else f"price it at {tick_size} or above"
        )
        return Skip(account_id, f"the limit price {limit} would be at or below 0: {fix}")
    if limit is not None and signal.urgency.kind is UrgencyKind.LIMIT_OFFSET:
        anchor = reference_price(signal, last_price)
        crossing = (limit - anchor) * side.sign  # how far past the reference it pays (BUY) or gives (SELL)
        if anchor > 0 and crossing > anchor * MAX_CROSS:
            return Skip(account_id, f"the limit price {limit} crosses the reference {anchor} by more than "
                                    f"{MAX_CROSS:.0%}: use a smaller negative offset, or a MARKET urgency")  # fmt: skip
    opening = _opening(account.position, order)
    return Leg(
        account_id=account_id,
        side=side,
        quantity=quantity,
        order_type="MARKET" if limit is None else "LIMIT",
        price=Decimal(0) if limit is None else limit,
        product=(signal.product or strategy.product).upper(),
        validity=signal.validity.value,
        capital=opening * (price if limit is None else limit),
        reduces_only=opening == 0,
    )


def size_all(strategy: Strategy, signal: Signal, accounts: Sequence[AccountView], lot_size: int, tick_size: Decimal,
             last_price: Decimal) -> list[Leg | Skip]:  # fmt: skip
    """Every account's leg, in the accounts' order."""
    return [size_leg(strategy, signal, account, lot_size, tick_size, last_price) for account in accounts]

"""Pre-trade checks of an order against its account's limits, before anything reaches Kite.
A refusal is FAILED_PRECONDITION (RISK_LIMIT_BREACHED) naming the limit, its value and the order's;
`refusal_listeners` are told of each (the alerts; a kill switch's refusals are told by KillSwitches)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from kite_gateway.core.risk.kill_switch import KillSwitches
from kite_gateway.core.risk.limits import RiskBook, RiskLimits
from kite_gateway.core.risk.refusals import Refused, tell_refused
from kite_gateway.errors import GatewayError, Reason, Status

MINUTE = 60.0


@dataclass(frozen=True)
class OrderIntent:
    """What the checks need of an order."""

    account_id: str
    exchange: str
    tradingsymbol: str
    instrument_type: str
    product: str
    buy: bool
    quantity: int
    price: Decimal = Decimal(0)  # the limit price, the trigger for SL-M, the last price for market orders


# (exchange, tradingsymbol) -> (net quantity, last price) of the account's open positions
Positions = dict[tuple[str, str], tuple[int, Decimal]]


def breach(intent: OrderIntent, limit: str, limit_value: object, order_value: object, text: str) -> GatewayError:
    return GatewayError(
        Status.FAILED_PRECONDITION,
        Reason.RISK_LIMIT_BREACHED,
        f"risk limit {limit} of account {intent.account_id} is {limit_value}; {text} {order_value}",
        {
            "account_id": intent.account_id,
            "limit": limit,
            "limit_value": str(limit_value),
            "order_value": str(order_value),
        },
        precondition_violations=[("RISK_LIMIT", f"account:{intent.account_id}/{limit}", f"{text} {order_value}")],
    )


class PreTradeRisk:
    def __init__(
        self, book: RiskBook, kill_switches: KillSwitches, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.book = book
        self.kill_switches = kill_switches
        self.clock = clock
        self._recent: dict[str, deque[float]] = {}
        self.refusal_listeners: list[Refused] = []

    async def admit(
        self,
        intent: OrderIntent,
        price: Callable[[], Awaitable[Decimal]],
        positions: Callable[[], Awaitable[Positions]],
    ) -> None:
        """Raise unless the order may go to Kite; an admitted order counts towards the per-minute limit.
        `price` and `positions` (Kite calls) are awaited only when a configured limit needs them."""
        self.kill_switches.check(intent.account_id)
        try:
            await self._admit(intent, price, positions)
        except GatewayError as exc:
            self._refused(intent.account_id, exc)
            raise

    async def _admit(
        self,
        intent: OrderIntent,
        price: Callable[[], Awaitable[Decimal]],
        positions: Callable[[], Awaitable[Positions]],
    ) -> None:
        limits = self.book.for_account(intent.account_id)
        allowed: list[tuple[str, frozenset[str] | None, str]] = [
            ("allowed_exchanges", limits.allowed_exchanges, intent.exchange),
            ("allowed_products", limits.allowed_products, intent.product),
            ("allowed_instrument_types", limits.allowed_instrument_types, intent.instrument_type),
        ]
        for name, permitted, actual in allowed:
            if permitted is not None and actual.upper() not in permitted:
                raise breach(intent, name, sorted(permitted), actual, "the order's is")
        if limits.needs_price:
            intent = replace(intent, price=await price())
        self._check_size(intent, limits, "the order's is")
        if limits.needs_positions:
            self._check_positions(intent, limits, await positions())
        self._count(intent, limits.max_orders_per_minute)

    def check_modification(self, account_id: str, quantity: int, price: Decimal) -> None:
        """The order-size limits for an order as a modification would leave it (price 0: a market
        order, whose value is not re-checked)."""
        intent = OrderIntent(account_id, "", "", "", "", True, quantity, price)
        try:
            self._check_size(intent, self.book.for_account(account_id), "the order's would be")
        except GatewayError as exc:
            self._refused(account_id, exc)
            raise

    def _refused(self, account_id: str, exc: GatewayError) -> None:
        """Tell the listeners of a breach (not of a Kite call that failed while reading a price)."""
        if exc.reason is Reason.RISK_LIMIT_BREACHED:
            tell_refused(self.refusal_listeners, account_id, exc.message)

    @staticmethod
    def _check_size(intent: OrderIntent, limits: RiskLimits, text: str) -> None:
        if limits.max_order_quantity is not None and intent.quantity > limits.max_order_quantity:
            raise breach(intent, "max_order_quantity", limits.max_order_quantity, intent.quantity, text)
        value = (intent.price * intent.quantity).quantize(Decimal("0.01"))
        if limits.max_order_value is not None and value > limits.max_order_value:
            raise breach(intent, "max_order_value", limits.max_order_value, value, text)

    def _check_positions(self, intent: OrderIntent, limits: RiskLimits, held: Positions) -> None:
        key = (intent.exchange, intent.tradingsymbol)
        quantity, _last = held.get(key, (0, intent.price))
        after = quantity + (intent.quantity if intent.buy else -intent.quantity)
        instrument_value = (abs(after) * intent.price).quantize(Decimal("0.01"))
        if limits.max_position_value_per_instrument is not None and (
            instrument_value > limits.max_position_value_per_instrument and abs(after) > abs(quantity)
        ):
            text = f"the {intent.tradingsymbol} position would be worth"
            limit = limits.max_position_value_per_instrument
            raise breach(intent, "max_position_value_per_instrument", limit, instrument_value, text)
        if limits.max_position_value is not None:
            others = sum((abs(q) * p for k, (q, p) in held.items() if k != key), Decimal(0))
            total = (others + instrument_value).quantize(Decimal("0.01"))
            if total > limits.max_position_value and abs(after) > abs(quantity):
                text = "the account's open positions would be worth"
                raise breach(intent, "max_position_value", limits.max_position_value, total, text)

    def _count(self, intent: OrderIntent, per_minute: int | None) -> None:
        now = self.clock()
        recent = self._recent.setdefault(intent.account_id, deque())
        while recent and now - recent[0] >= MINUTE:
            recent.popleft()
        if per_minute is not None and len(recent) >= per_minute:
            raise breach(
                intent, "max_orders_per_minute", per_minute, len(recent) + 1, "this would be the minute's order number"
            )
        recent.append(now)

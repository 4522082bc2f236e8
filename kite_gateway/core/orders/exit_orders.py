"""Exit orders: MARKET orders that only reduce an existing position (a square-off, a basket's
unwind), placed through the same idempotent path as PlaceOrder but as the `exit` kind, which no
kill switch stops (a kill switch refuses new risk; reducing it must still go out).

What keeps an exit an exit is its check at the moment of sending (in the account's dispatch queue,
after every earlier order of the account has left): the account's net position in the instrument
and product is read from Kite, less what open orders on the closing side already cover, and the exit
is refused when there is nothing left to reduce, or shrunk to what is left: an exit never opens a
position and never flips one. Its market protection is the gateway's setting (Kite's automatic one
when that is 0, since an exit must not be refused for want of it), as PlaceOrder gives MARKET
orders that do not say.

A quantity above the instrument's freeze limit (Kite refuses it and says so) is sent again under the
same client_order_id with Kite's autoslice, as PlaceOrder's `autoslice` would send it. The
client_order_id of an exit is derived from its caller's request id (`exit_client_order_id`), so a
retry of the request finds the exit already placed and never places it again."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.core.orders.requests import Placed
from kite_gateway.core.orders.status import is_final
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import KiteOrders, KitePortfolio, KiteValue, OrderRow, PositionRow
from kite_wire import kite_number
from kite_wire import order_rules as rules

Positions = Callable[[KiteOrders], Awaitable[Sequence[PositionRow]]]  # an account's net positions


async def kite_positions(kite: KiteOrders) -> Sequence[PositionRow]:
    """The account's net positions, from Kite."""
    return (await KitePortfolio(kite.caller).positions()).net


def exit_client_order_id(request_id: str, account_id: str, exchange: str, tradingsymbol: str, product: str) -> str:
    """The client_order_id of the exit a request makes of one position: the same for every retry."""
    digest = hashlib.sha256(f"{request_id}|{account_id}|{exchange}|{tradingsymbol}|{product}".encode()).hexdigest()
    return f"exit-{digest[:40]}"


def closing_side(net_quantity: int) -> str:
    """The transaction type that reduces a net position (SELL for a long one)."""
    return "SELL" if net_quantity > 0 else "BUY"


@dataclass(frozen=True)
class ExitLeg:
    """One exit to send: reduce the position in (exchange, tradingsymbol, product) by `quantity`."""

    account_id: str
    exchange: str
    tradingsymbol: str
    product: str
    transaction_type: str  # the closing side
    quantity: int
    client_order_id: str


def open_quantity(orders: Sequence[OrderRow], exchange: str, tradingsymbol: str, product: str, side: str) -> int:
    """What open orders on `side` in the instrument and product still have to fill."""
    return sum(
        int(row.get("pending_quantity") or 0)
        for row in orders
        if not is_final(row.get("status"))
        and not row.get("parent_order_id")
        and (row.get("exchange"), row.get("tradingsymbol"), row.get("product")) == (exchange, tradingsymbol, product)
        and row.get("transaction_type") == side
    )


def net_quantity(positions: Sequence[PositionRow], exchange: str, tradingsymbol: str, product: str) -> int:
    return sum(
        row.quantity
        for row in positions
        if (row.exchange, row.tradingsymbol, row.product) == (exchange, tradingsymbol, product)
    )


def nothing_to_reduce(leg: ExitLeg, net: int) -> GatewayError:
    return GatewayError(
        Status.FAILED_PRECONDITION,
        Reason.RISK_LIMIT_BREACHED,
        f"the exit of {leg.exchange}:{leg.tradingsymbol} ({leg.product}) on account {leg.account_id} was not sent: "
        f"the net position is {net} and open orders already cover it, so a {leg.transaction_type} would open or "
        "flip a position (an exit only reduces one)",
        {"account_id": leg.account_id, "limit": "reduce_only", "limit_value": str(net),
         "order_value": str(leg.quantity), "client_order_id": leg.client_order_id},
    )  # fmt: skip


class ExitOrders:
    def __init__(
        self, placement: IdempotentPlacement, market_protection: Decimal, positions: Positions = kite_positions
    ) -> None:
        self.placement = placement
        self.market_protection = market_protection
        self.positions = positions

    def kwargs(self, leg: ExitLeg, algo_id: str = "") -> dict[str, KiteValue]:
        protection = self.market_protection
        if rules.market_protection_missing("MARKET", protection):
            protection = rules.AUTO_MARKET_PROTECTION
        kwargs: dict[str, KiteValue] = {
            "variety": "regular",
            "exchange": leg.exchange,
            "tradingsymbol": leg.tradingsymbol,
            "transaction_type": leg.transaction_type,
            "quantity": leg.quantity,
            "product": leg.product,
            "order_type": "MARKET",
            "validity": "DAY",
            "market_protection": kite_number(protection),
        }
        if algo_id:
            kwargs["algo_id"] = algo_id
        return kwargs

    @staticmethod
    def fingerprint(leg: ExitLeg, sliced: bool) -> str:
        """An exit's fingerprint: what it closes, not how much (a retry may find less to close)."""
        text = f"exit|{leg.exchange}|{leg.tradingsymbol}|{leg.product}|{leg.transaction_type}|{sliced}"
        return hashlib.sha256(text.encode()).hexdigest()

    def reduce_only(
        self, kite: KiteOrders, leg: ExitLeg, kwargs: dict[str, KiteValue]
    ) -> Callable[[], Awaitable[None]]:
        """The check at the moment of sending: refuse the exit when it would reduce nothing, shrink
        it to what is left of the position when it is larger."""

        async def check() -> None:
            net = net_quantity(await self.positions(kite), leg.exchange, leg.tradingsymbol, leg.product)
            if net == 0 or closing_side(net) != leg.transaction_type:
                raise nothing_to_reduce(leg, net)
            covered = open_quantity(await kite.orders(), leg.exchange, leg.tradingsymbol, leg.product,
                                    leg.transaction_type)  # fmt: skip
            room = abs(net) - covered
            if room <= 0:
                raise nothing_to_reduce(leg, net)
            kwargs["quantity"] = min(int(kwargs["quantity"]), room)

        return check

    async def place(self, kite: KiteOrders, leg: ExitLeg, algo_id: str = "") -> Placed:
        """Send one exit (or return the one already placed for its client_order_id)."""
        if leg.quantity <= 0 or leg.transaction_type not in ("BUY", "SELL"):
            raise ValueError(f"not an exit: {leg}")
        stored = await self.placement.store.get(leg.account_id, leg.client_order_id)
        sliced = stored is not None and stored.fingerprint == self.fingerprint(leg, True)
        try:
            return await self._place(kite, leg, algo_id, sliced)
        except GatewayError as exc:
            if sliced or "freeze" not in exc.message.lower():
                raise
        return await self._place(kite, leg, algo_id, True)  # above the freeze limit: Kite slices it

    async def _place(self, kite: KiteOrders, leg: ExitLeg, algo_id: str, sliced: bool) -> Placed:
        kwargs = self.kwargs(leg, algo_id)
        order_id, replayed = await self.placement.place_order(
            kite,
            leg.client_order_id,
            self.fingerprint(leg, sliced),
            kwargs,
            check=self.reduce_only(kite, leg, kwargs),
            sliced=sliced,
            exit=True,
        )
        answer = await self.placement.slices(leg.account_id, leg.client_order_id) if sliced else None
        if answer is None:
            return Placed(order_id, leg.client_order_id, replayed)
        return Placed(order_id, leg.client_order_id, replayed, answer.parent_order_id, answer.children)

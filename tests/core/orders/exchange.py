"""A fake account at Kite for the exit use cases: an order book and net positions, where a MARKET
order fills at once (its position moves), a LIMIT order rests OPEN, and a cancellation closes it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import cast

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import PositionRow
from kite_gateway.kite.orders import KiteOrders, KiteValue, OrderRow

Key = tuple[str, str, str]


def position(exchange: str, symbol: str, product: str, quantity: int) -> PositionRow:
    zero = Decimal(0)
    return PositionRow(
        exchange, symbol, f"{exchange}:{symbol}", 1, product, quantity, 0, 0, 0, 0, 0, Decimal(1),
        *([zero] * (len(PositionRow.__dataclass_fields__) - 12)),
    )  # fmt: skip


class FakeAccount:
    def __init__(self, account_id: str, held: Mapping[Key, int] | None = None) -> None:
        self.account_id = account_id
        self.held: dict[Key, int] = dict(held or {})
        self.book: list[OrderRow] = []
        self.sent: list[dict[str, KiteValue]] = []  # every placement that reached "Kite", in order
        self.cancelled: list[str] = []
        self.refuse: dict[str, GatewayError] = {}  # tradingsymbol -> Kite's refusal of an order in it
        self.gate: asyncio.Event | None = None  # set: placements wait for it (held in the queue)

    def typed(self) -> KiteOrders:
        return cast(KiteOrders, self)

    @contextlib.asynccontextmanager
    async def order_turn(self, weight: int = 1) -> AsyncIterator[None]:
        yield

    def rest(self, symbol: str, side: str, quantity: int, product: str = "MIS", exchange: str = "NSE") -> str:
        """An open LIMIT order already in the book."""
        order_id = f"9{len(self.book):04d}"
        self.book.append(OrderRow(order_id=order_id, status="OPEN", variety="regular", exchange=exchange,
                                  tradingsymbol=symbol, product=product, transaction_type=side, quantity=quantity,
                                  pending_quantity=quantity, filled_quantity=0))  # fmt: skip
        return order_id

    def filled(self, symbol: str, side: str, quantity: int, product: str = "MIS", exchange: str = "NSE") -> str:
        """A COMPLETE order already in the book, its position held."""
        order_id = f"8{len(self.book):04d}"
        self.book.append(OrderRow(order_id=order_id, status="COMPLETE", variety="regular", exchange=exchange,
                                  tradingsymbol=symbol, product=product, transaction_type=side, quantity=quantity,
                                  pending_quantity=0, filled_quantity=quantity))  # fmt: skip
        key = (exchange, symbol, product)
        self.held[key] = self.held.get(key, 0) + (quantity if side == "BUY" else -quantity)
        return order_id

    async def place_order_now(self, args: Mapping[str, KiteValue], tag: str) -> str:
        if self.gate is not None:
            await self.gate.wait()
        symbol = str(args["tradingsymbol"])
        if symbol in self.refuse:
            raise self.refuse[symbol]
        self.sent.append(dict(args))
        order_id = f"7{len(self.book):04d}"
        quantity, side = int(args["quantity"]), str(args["transaction_type"])
        market = args["order_type"] == "MARKET"
        self.book.append(OrderRow(order_id=order_id, status="COMPLETE" if market else "OPEN", tag=tag,
                                  variety=str(args["variety"]), exchange=str(args["exchange"]), tradingsymbol=symbol,
                                  product=str(args["product"]), transaction_type=side, quantity=quantity,
                                  pending_quantity=0 if market else quantity,
                                  filled_quantity=quantity if market else 0))  # fmt: skip
        if market:
            key = (str(args["exchange"]), symbol, str(args["product"]))
            self.held[key] = self.held.get(key, 0) + (quantity if side == "BUY" else -quantity)
        return order_id

    async def orders(self) -> list[OrderRow]:
        return list(self.book)

    async def cancel_order(self, variety: str, order_id: str, parent_order_id: str | None = None) -> None:
        for row in self.book:
            if row["order_id"] == order_id:
                if row["status"] != "OPEN":
                    raise GatewayError(Status.FAILED_PRECONDITION, Reason.KITE_ORDER_REJECTED, "not open")
                row["status"], row["pending_quantity"] = "CANCELLED", 0
                self.cancelled.append(order_id)
                return
        raise GatewayError(Status.NOT_FOUND, Reason.ORDER_NOT_FOUND, f"no order {order_id}")

    def positions(self) -> Sequence[PositionRow]:
        return [position(e, s, p, q) for (e, s, p), q in self.held.items()]


async def positions_of(kite: KiteOrders) -> Sequence[PositionRow]:
    return cast(FakeAccount, kite).positions()

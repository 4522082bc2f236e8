"""Reading orders: the account's order book and an order's history, each state with the
client_order_id it was placed with, and trades (the account's, or one order's)."""

from __future__ import annotations

from dataclasses import dataclass

from kite_gateway.core.orders.accounts import OrderAccounts
from kite_gateway.core.orders.duplicates import DuplicateOrders
from kite_gateway.core.orders.requests import OrderTarget
from kite_gateway.kite import OrderRow, TradeRow
from kite_gateway.storage import IdempotencyStore


@dataclass(frozen=True)
class OrderState:
    """An order as Kite reports it, with its client_order_id ("" : not placed through the gateway)."""

    row: OrderRow
    client_order_id: str


class OrderQueries:
    def __init__(self, accounts: OrderAccounts, ids: IdempotencyStore, duplicates: DuplicateOrders) -> None:
        self.accounts = accounts
        self.ids = ids
        self.duplicates = duplicates

    async def _named(self, account_id: str, rows: list[OrderRow]) -> list[OrderState]:
        ids = await self.ids.client_ids_by_tag(account_id)
        return [OrderState(row, ids.get(row.get("tag") or "", "")) for row in rows]

    async def orders(self, account_id: str) -> list[OrderState]:
        """Today's orders, newest first; the book is checked for duplicates on the way."""
        kite = self.accounts.reading(account_id)
        rows = await kite.orders()
        await self.duplicates.scan(kite, rows)
        return await self._named(account_id, list(reversed(rows)))

    async def history(self, account_id: str, target: OrderTarget) -> list[OrderState]:
        """Every state of one order, oldest first; of an autosliced client_order_id, every child's
        states, child after child in slice order."""
        kite = self.accounts.reading(account_id)
        order_ids = await self.accounts.order_ids(kite, target)
        ids = await self.ids.client_ids_by_tag(account_id)
        rows = [row for order_id in order_ids for row in await kite.order_history(order_id)]
        return [OrderState(row, ids.get(row.get("tag") or "", "")) for row in rows]

    async def trades(self, account_id: str, target: OrderTarget | None) -> list[TradeRow]:
        """The account's trades today, or one order's (`target`)."""
        kite = self.accounts.reading(account_id)
        if target is None:
            return await kite.trades()
        return [trade for order_id in await self.accounts.order_ids(kite, target)
                for trade in await kite.order_trades(order_id)]  # fmt: skip

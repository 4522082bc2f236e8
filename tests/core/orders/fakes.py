"""Fakes of what the order use cases call: an account's order endpoints and the database."""

from __future__ import annotations

from typing import Any, cast

from kite_gateway.errors import GatewayError
from kite_gateway.kite.orders import KiteOrders, OrderRow
from kite_gateway.storage.database import Database


class FakeOrders:
    """An account's order book; cancelling an order in `refuse` fails with that error."""

    def __init__(self, account_id: str, book: list[OrderRow], refuse: dict[str, GatewayError] | None = None) -> None:
        self.account_id = account_id
        self.book = book
        self.refuse = refuse or {}
        self.cancelled: list[tuple[str, str]] = []

    async def orders(self) -> list[OrderRow]:
        return self.book

    async def cancel_order(self, variety: str, order_id: str, parent_order_id: str | None = None) -> None:
        if order_id in self.refuse:
            raise self.refuse[order_id]
        self.cancelled.append((variety, order_id))

    def typed(self) -> KiteOrders:
        return cast(KiteOrders, self)


class FakeDatabase:
    """A database that stores nothing."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> None:
        self.writes.append((sql, parameters))

    def typed(self) -> Database:
        return cast(Database, self)

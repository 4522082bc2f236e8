"""Duplicate orders the gateway found (two orders at Kite for one client_order_id), once each."""

from __future__ import annotations

from kite_gateway.storage.database import Database, now_text


class DuplicateLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def known(self, account_id: str, order_id: str) -> bool:
        row = await self.database.fetch_one(
            "SELECT 1 FROM duplicate_orders WHERE account_id = ? AND order_id = ?", (account_id, order_id)
        )
        return row is not None

    async def add(
        self, account_id: str, order_id: str, client_order_id: str, kept_order_id: str, action: int, message: str
    ) -> bool:
        """Store a duplicate; False if it was stored before."""
        changed = await self.database.execute(
            "INSERT INTO duplicate_orders (account_id, order_id, client_order_id, kept_order_id, action, "
            "message, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (account_id, order_id, client_order_id, kept_order_id, action, message, now_text()),
        )
        return bool(changed)

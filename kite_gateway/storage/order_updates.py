"""Order updates, stored once each with a per-account sequence that increases by exactly one: the
durable queue every StreamOrderUpdates subscriber reads from, across reconnects and restarts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kite_gateway.storage.database import Database


@dataclass(frozen=True)
class StoredUpdate:
    account_id: str
    sequence: int
    source: int
    received_at: datetime
    order: dict[str, Any]


def dedupe_key(order: dict[str, Any]) -> str:
    """The same change reported twice (ticker and postback) has the same key."""
    return "|".join(
        str(order.get(k) or "")
        for k in (
            "order_id",
            "status",
            "filled_quantity",
            "pending_quantity",
            "cancelled_quantity",
            "price",
            "trigger_price",
            "quantity",
        )
    )


class OrderUpdateLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def append(
        self, account_id: str, order: dict[str, Any], source: int, key: str | None = None
    ) -> StoredUpdate | None:
        """Store an update; None when the same change was stored before (`key`, by default its
        dedupe_key, says what "the same" is)."""
        now = datetime.now(UTC)
        key = key or dedupe_key(order)
        body = json.dumps(order, default=str, sort_keys=True)
        changed = await self.database.execute(
            "INSERT OR IGNORE INTO order_updates (account_id, sequence, order_id, dedupe_key, source, received_at, "
            "payload) SELECT ?, COALESCE(MAX(sequence), 0) + 1, ?, ?, ?, ?, ? FROM order_updates WHERE account_id = ?",
            (
                account_id,
                str(order.get("order_id") or ""),
                key,
                source,
                now.isoformat(),
                body,
                account_id,
            ),
        )
        if not changed:
            return None
        row = await self.database.fetch_one(
            "SELECT sequence FROM order_updates WHERE account_id = ? AND dedupe_key = ?",
            (account_id, key),
        )
        assert row is not None
        return StoredUpdate(account_id, int(row["sequence"]), source, now, order)

    async def after(self, account_id: str, sequence: int, limit: int = 500) -> list[StoredUpdate]:
        rows = await self.database.fetch_all(
            "SELECT * FROM order_updates WHERE account_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
            (account_id, sequence, limit),
        )
        return [
            StoredUpdate(
                account_id,
                int(r["sequence"]),
                int(r["source"]),
                datetime.fromisoformat(r["received_at"]),
                json.loads(r["payload"]),
            )
            for r in rows
        ]

    async def newest(self, account_id: str) -> int:
        row = await self.database.fetch_one(
            "SELECT COALESCE(MAX(sequence), 0) AS newest FROM order_updates WHERE account_id = ?", (account_id,)
        )
        return int(row["newest"]) if row else 0

    async def latest_by_order(self, account_id: str) -> dict[str, str]:
        """Each order's last stored dedupe key (what the gateway last knew of it)."""
        rows = await self.database.fetch_all(
            "SELECT order_id, dedupe_key FROM order_updates WHERE account_id = ? ORDER BY sequence", (account_id,)
        )
        return {row["order_id"]: row["dedupe_key"] for row in rows}

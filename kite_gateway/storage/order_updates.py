"""Order updates, stored once each with a per-account sequence that increases by exactly one: the
durable queue every StreamOrderUpdates subscriber reads from, across reconnects and restarts.

With an AtRest (the gateway always gives one) the payload is sealed and the de-duplication key, made of
the order's fields, is stored as its keyed hash: only the account, the order id and the times are in
the clear. Payloads an older version stored in the clear are read as they are (and sealed by rekey)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kite_gateway.storage.database import Database, DuplicateKey
from kite_gateway.storage.sealing import AtRest


@dataclass(frozen=True)
class StoredUpdate:
    account_id: str
    sequence: int
    source: int
    received_at: datetime
    order: dict[str, Any]


KEY_VERSION = "v2|"
HASHED_VERSION = "h1:"  # a key as stored with an AtRest: "h1:" + HMAC-SHA256 of the key (hex)
SEQUENCE_ATTEMPTS = 100  # appends from several processes racing for one account's next sequence retry
# What makes an order this order (so an order id Kite, or a restarted simulator, hands out again is
# never taken for the first order), and what makes a state of it this state.
IDENTITY_FIELDS = ("order_id", "exchange", "tradingsymbol", "instrument_token", "transaction_type", "product",
                   "variety", "order_timestamp", "tag", "parent_order_id")  # fmt: skip
STATE_FIELDS = ("status", "order_type", "validity", "quantity", "filled_quantity", "pending_quantity",
                "cancelled_quantity", "price", "trigger_price", "average_price",
                "exchange_update_timestamp")  # fmt: skip


def _text(value: Any) -> str:
    """One field as key text: numbers in one spelling (1500, 1500.0 and "1500.00" alike), empties and zero as ""."""
    if value is None or value == "" or value is False:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = Decimal(str(value))
        return "" if number == 0 else format(number.normalize(), "f")
    return str(value)


def dedupe_key(order: dict[str, Any]) -> str:
    """The same change reported twice (ticker, postback, reconciliation) has the same key; two
    different orders, or two states of one order, never do."""
    return KEY_VERSION + "|".join(_text(order.get(k)) for k in IDENTITY_FIELDS + STATE_FIELDS)


class OrderUpdateLog:
    def __init__(
        self,
        database: Database,
        at_rest: AtRest | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.at_rest = at_rest  # None: payloads and keys in the clear (tests of the queue alone)
        self.clock = clock  # when an update is received (the gateway's clock: the simulator's in tests)
        self._appending: dict[str, asyncio.Lock] = {}  # one append at a time per account in this process

    def stored_key(self, key: str) -> str:
        """A de-duplication key as stored: itself, or its keyed hash (so the order's fields it is made of
        cannot be read from it, yet the same change still has the same key)."""
        return key if self.at_rest is None else HASHED_VERSION + self.at_rest.digest(key)

    def key_of(self, order: dict[str, Any]) -> str:
        """The order's dedupe_key as stored (what latest_by_order answers)."""
        return self.stored_key(dedupe_key(order))

    def _payload(self, order: dict[str, Any]) -> str:
        body = json.dumps(order, default=str, sort_keys=True)
        return body if self.at_rest is None else self.at_rest.seal(body)

    def _order(self, payload: str) -> dict[str, Any]:
        order: dict[str, Any] = json.loads(payload if self.at_rest is None else self.at_rest.open(payload))
        return order

    async def append(
        self, account_id: str, order: dict[str, Any], source: int, key: str | None = None
    ) -> StoredUpdate | None:
        """Store an update; None when the same change was stored before (`key`, by default its
        dedupe_key, says what "the same" is)."""
        now = self.clock().astimezone(UTC)  # UTC text, so that times compare as text
        key = self.stored_key(key or dedupe_key(order))
        body = self._payload(order)
        params = (account_id, str(order.get("order_id") or ""), key, source, now.isoformat(), body, account_id)
        async with self._appending.setdefault(account_id, asyncio.Lock()):
            sequence = await self._insert_next(account_id, params)
        if sequence is None:
            return None
        return StoredUpdate(account_id, sequence, source, now, order)

    async def _insert_next(self, account_id: str, params: tuple[object, ...]) -> int | None:
        """Store an update under the account's next sequence; that sequence (None: its key was stored
        before). Another process appending for the account (a stale owner, PostgreSQL) may take a
        sequence first: retry."""
        for _ in range(SEQUENCE_ATTEMPTS):
            try:
                row = await self.database.returning(
                    "INSERT INTO order_updates (account_id, sequence, order_id, dedupe_key, source, received_at, "
                    "payload) SELECT ?, COALESCE(MAX(sequence), 0) + 1, ?, ?, CAST(? AS BIGINT), ?, ? "
                    "FROM order_updates WHERE account_id = ? ON CONFLICT (account_id, dedupe_key) DO NOTHING "
                    "RETURNING sequence",
                    params,
                )
                return None if row is None else int(row["sequence"])
            except DuplicateKey:  # another connection stored the account's next sequence first: take the one after
                continue
        raise RuntimeError(f"could not take the next order-update sequence of {account_id}")

    async def after(self, account_id: str, sequence: int, limit: int = 500) -> list[StoredUpdate]:
        rows = await self.database.fetch_all(
            "SELECT * FROM order_updates WHERE account_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
            (account_id, sequence, limit),
        )
        return self._stored(account_id, rows)

    def _stored(self, account_id: str, rows: list[Any]) -> list[StoredUpdate]:
        return [
            StoredUpdate(account_id, int(r["sequence"]), int(r["source"]), datetime.fromisoformat(r["received_at"]),
                         self._order(r["payload"]))
            for r in rows
        ]  # fmt: skip

    async def received_between(self, account_id: str, start: datetime, end: datetime) -> list[StoredUpdate]:
        """The account's updates received within [start, end), oldest first."""
        rows = await self.database.fetch_all(
            "SELECT * FROM order_updates WHERE account_id = ? AND received_at >= ? AND received_at < ? "
            "ORDER BY sequence",
            (account_id, start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()),
        )
        return self._stored(account_id, rows)

    async def newest(self, account_id: str) -> int:
        row = await self.database.fetch_one(
            "SELECT COALESCE(MAX(sequence), 0) AS newest FROM order_updates WHERE account_id = ?", (account_id,)
        )
        return int(row["newest"]) if row else 0

    async def rekey(self) -> int:
        """Give updates stored under an older key the current one (so that a repeat of them is still
        recognised after an upgrade, or once keys are hashed); returns how many. Keys that would collide
        are left as they were."""
        current = KEY_VERSION if self.at_rest is None else HASHED_VERSION
        rows = await self.database.fetch_all(
            "SELECT account_id, sequence, dedupe_key, payload FROM order_updates WHERE dedupe_key NOT LIKE ?",
            (current + "%",),
        )
        if not rows:
            return 0
        updates = []
        for r in rows:
            old = r["dedupe_key"]
            hashing = self.at_rest is not None and old.startswith(KEY_VERSION)  # a current key, in the clear
            key = self.stored_key(old) if hashing else self.key_of(self._order(r["payload"]))
            updates.append((key, r["account_id"], r["sequence"], r["account_id"], key))
        await self.database.execute_many(
            "UPDATE order_updates SET dedupe_key = ? WHERE account_id = ? AND sequence = ? "
            "AND NOT EXISTS (SELECT 1 FROM order_updates WHERE account_id = ? AND dedupe_key = ?)",
            updates,
        )
        return len(rows)

    async def latest_by_order(self, account_id: str) -> dict[str, str]:
        """Each order's last stored dedupe key, as key_of gives it (what the gateway last knew of it)."""
        rows = await self.database.fetch_all(
            "SELECT order_id, dedupe_key FROM order_updates WHERE account_id = ? ORDER BY sequence", (account_id,)
        )
        return {row["order_id"]: row["dedupe_key"] for row in rows}

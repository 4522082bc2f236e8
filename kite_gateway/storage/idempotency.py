"""Idempotency records: every order-creating call is stored under (account, client_order_id)
before Kite is called, with a fingerprint of its fields and the tag sent to Kite."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from kite_gateway.storage.database import Database, now_text

PENDING = "pending"  # stored, Kite's answer not (yet) known
PLACED = "placed"  # Kite accepted: order_id known
FAILED = "failed"  # Kite refused for certain: nothing exists at Kite; a retry may try again


def kite_tag(account_id: str, client_order_id: str) -> str:
    """The tag sent to Kite for a client_order_id: 20 letters and digits (Kite's limit), stable."""
    digest = hashlib.sha256(f"{account_id}:{client_order_id}".encode()).digest()
    return "kg" + base64.b32encode(digest).decode()[:18].lower()


@dataclass(frozen=True)
class Record:
    account_id: str
    client_order_id: str
    kind: str
    fingerprint: str
    tag: str
    state: str
    order_id: str | None
    error: str | None


class IdempotencyStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, account_id: str, client_order_id: str) -> Record | None:
        row = await self.database.fetch_one(
            "SELECT * FROM idempotency WHERE account_id = ? AND client_order_id = ?", (account_id, client_order_id)
        )
        return _record(row) if row else None

    async def by_order_id(self, account_id: str, order_id: str) -> Record | None:
        row = await self.database.fetch_one(
            "SELECT * FROM idempotency WHERE account_id = ? AND order_id = ?", (account_id, order_id)
        )
        return _record(row) if row else None

    async def client_ids_by_tag(self, account_id: str) -> dict[str, str]:
        """Every tag the gateway sent for an account, to the client_order_id it stands for."""
        rows = await self.database.fetch_all(
            "SELECT tag, client_order_id FROM idempotency WHERE account_id = ?", (account_id,)
        )
        return {row["tag"]: row["client_order_id"] for row in rows}

    async def claim(self, account_id: str, client_order_id: str, kind: str, fingerprint: str) -> Record:
        """Store a new PENDING record (or return the existing one untouched)."""
        tag = kite_tag(account_id, client_order_id)
        now = now_text()
        await self.database.execute(
            "INSERT OR IGNORE INTO idempotency (account_id, client_order_id, kind, fingerprint, tag, state, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (account_id, client_order_id, kind, fingerprint, tag, PENDING, now, now),
        )
        record = await self.get(account_id, client_order_id)
        assert record is not None
        return record

    async def settle(self, account_id: str, client_order_id: str, state: str, order_id: str | None = None,
                     error: str | None = None) -> None:  # fmt: skip
        await self.database.execute(
            "UPDATE idempotency SET state = ?, order_id = ?, error = ?, updated_at = ? "
            "WHERE account_id = ? AND client_order_id = ?",
            (state, order_id, error, now_text(), account_id, client_order_id),
        )


def _record(row: object) -> Record:
    return Record(**{k: row[k] for k in Record.__dataclass_fields__})  # type: ignore[index]

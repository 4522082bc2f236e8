"""Order requests kept under their caller's id (a square-off, a cancel-all, a basket): claimed
before anything is sent, with a fingerprint of what was asked, and their result once done, so that
a retry with the same id returns the stored result instead of acting again."""

from __future__ import annotations

from dataclasses import dataclass

from kite_gateway.storage.database import Database, now_text

RUNNING = "running"  # claimed; its orders may be on their way (a retry runs it again, idempotently)
DONE = "done"  # finished: `result` is what every retry gets


@dataclass(frozen=True)
class StoredRequest:
    kind: str
    request_id: str
    fingerprint: str
    account_id: str
    principal: str
    state: str
    result: str | None  # JSON of the use case's result, once DONE


class OrderRequests:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, kind: str, request_id: str) -> StoredRequest | None:
        row = await self.database.fetch_one(
            "SELECT * FROM order_requests WHERE kind = ? AND request_id = ?", (kind, request_id)
        )
        if row is None:
            return None
        return StoredRequest(**{name: row[name] for name in StoredRequest.__dataclass_fields__})

    async def claim(
        self, kind: str, request_id: str, fingerprint: str, account_id: str = "", principal: str = ""
    ) -> StoredRequest:
        """Store a new RUNNING request (or return the one stored under that id, untouched)."""
        now = now_text()
        await self.database.execute(
            "INSERT INTO order_requests (kind, request_id, fingerprint, account_id, principal, state, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (kind, request_id, fingerprint, account_id, principal, RUNNING, now, now),
        )
        stored = await self.get(kind, request_id)
        assert stored is not None
        return stored

    async def finish(self, kind: str, request_id: str, result: str) -> None:
        await self.database.execute(
            "UPDATE order_requests SET state = ?, result = ?, updated_at = ? WHERE kind = ? AND request_id = ?",
            (DONE, result, now_text(), kind, request_id),
        )

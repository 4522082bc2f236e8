"""Idempotency records: every order-creating call is stored under (account, client_order_id)
before Kite is called, with a fingerprint of its fields and the tag sent to Kite, and each
attempt's send time is stored before the attempt leaves (write-ahead), so that after a crash or a
lost answer the gateway knows an attempt may be on its way to Kite."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage.database import Database, now_text
from kite_gateway.storage.leases import FencedOut

PENDING = "pending"  # stored; if sent_at is set an attempt left and Kite's answer is not (yet) known
PLACED = "placed"  # Kite accepted: order_id known
FAILED = "failed"  # Kite refused for certain, or nothing was sent: a retry may try again


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
    sent_at: datetime | None  # when the last attempt was sent (None: never sent)
    attempts: int  # attempts sent so far
    slices: str | None = None  # an autosliced order's parent and children (JSON, core/orders/autoslice.py)


class Fence(Protocol):
    """The clustered mode's guard on owner-only writes (kite_gateway/cluster/fencing.py)."""

    def condition(self, account_id: str) -> tuple[str, tuple[Any, ...]]:
        """A SQL condition (and its parameters) true only while this replica owns the account;
        raises FencedOut when it knows it does not."""
        ...


# Nothing is sent while a kill switch is stored engaged, wherever it was engaged: the check is in
# the statement that records the send, so a replica that has not heard of it yet refuses too.
_NO_KILL_SWITCH = "NOT EXISTS (SELECT 1 FROM kill_switches WHERE engaged = 1 AND account_id IN ('', ?))"


class IdempotencyStore:
    """The records, in `database`. With a `fence` (the clustered mode), every write that moves a
    record on (send, settle, reclaim, slices) is made only while this replica owns its account."""

    def __init__(self, database: Database, fence: Fence | None = None) -> None:
        self.database = database
        self.fence = fence

    async def _update(self, account_id: str, sql: str, params: tuple[Any, ...], synced: bool = True) -> int:
        """Run an UPDATE whose WHERE ends in `account_id = ? AND client_order_id = ?`, fenced."""
        if self.fence is None:
            return await self.database.execute(sql, params, synced=synced)
        condition, extra = self.fence.condition(account_id)
        changed = await self.database.execute(f"{sql} AND {condition}", (*params, *extra), synced=synced)
        if not changed:
            row = await self.database.fetch_one(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END", extra)
            if row is None or not row[0]:
                raise FencedOut(account_id, "another replica has taken its lease")
        return changed

    async def _exists(self, account_id: str, client_order_id: object) -> bool:
        row = await self.database.fetch_one(
            "SELECT 1 FROM idempotency WHERE account_id = ? AND client_order_id = ?", (account_id, client_order_id)
        )
        return row is not None

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

    async def by_tag(self, account_id: str, tag: str) -> Record | None:
        row = await self.database.fetch_one(
            "SELECT * FROM idempotency WHERE account_id = ? AND tag = ?", (account_id, tag)
        )
        return _record(row) if row else None

    async def mark_sent(
        self, account_id: str, client_order_id: str, at: datetime, attempts: int | None = None, exit: bool = False
    ) -> None:
        """Record, before it leaves, that an attempt is being sent now (the record stays PENDING).
        With `attempts` (the count the sender read), only if no other attempt was recorded since:
        of two processes that both decided to send one record, one records it and the other is
        refused. Refused, with nothing written, while a kill switch of the account or the gateway is
        stored engaged (KILL_SWITCH_ACTIVE) or, fenced, when this replica does not own the account
        (FencedOut). An `exit` (an order that only reduces a position: a square-off, an unwind) is
        not refused by a kill switch, which stops new risk, not its reduction; the fence still holds."""
        expected, params = ("", ()) if attempts is None else ("attempts = ? AND ", (attempts,))
        switch, switch_params = ("", ()) if exit else (f"{_NO_KILL_SWITCH} AND ", (account_id,))
        changed = await self._update(
            account_id,
            "UPDATE idempotency SET state = ?, sent_at = ?, attempts = attempts + 1, error = NULL, slices = NULL, "
            f"updated_at = ? WHERE {switch}{expected}account_id = ? AND client_order_id = ?",
            (PENDING, at.isoformat(), now_text(), *switch_params, *params, account_id, client_order_id),
        )
        if changed or not await self._exists(account_id, client_order_id):
            return
        engaged = None
        if not exit:
            engaged = await self.database.fetch_one(f"SELECT 1 WHERE NOT {_NO_KILL_SWITCH}", (account_id,))
        if engaged is not None:
            raise GatewayError(
                Status.FAILED_PRECONDITION,
                Reason.KILL_SWITCH_ACTIVE,
                f"a kill switch is engaged for account {account_id} or the whole gateway (stored, perhaps by another "
                "replica): nothing was sent; release it with SetKillSwitch to trade again",
                {"account_id": account_id, "client_order_id": client_order_id},
            )
        raise GatewayError(
            Status.UNAVAILABLE,
            Reason.ORDER_OUTCOME_UNKNOWN,
            f"another attempt of client_order_id {client_order_id!r} on account {account_id} was recorded as sent "
            "at the same moment (by another gateway process): this one was not sent, and the other's outcome is not "
            "known yet; retry with the same client_order_id",
            {"account_id": account_id, "client_order_id": client_order_id},
            retry_after=1.0,
        )

    async def sent_since(self, account_id: str, since: datetime) -> int:
        """Orders whose last attempt was sent at or after `since` (a floor for today's order count);
        an autosliced order counts each of its children, as Kite does."""
        where = "FROM idempotency WHERE account_id = ? AND kind = 'order' AND sent_at >= ?"
        params = (account_id, since.isoformat())
        row = await self.database.fetch_one(f"SELECT COUNT(*) AS sent {where} AND slices IS NULL", params)
        sliced = await self.database.fetch_all(f"SELECT slices {where} AND slices IS NOT NULL", params)
        children = sum(len(json.loads(r["slices"]).get("children") or ()) for r in sliced)  # few: sliced orders only
        return (int(row["sent"]) if row else 0) + children

    async def claim(self, account_id: str, client_order_id: str, kind: str, fingerprint: str) -> Record:
        """Store a new PENDING record (or return the existing one untouched): one statement for a
        new id, a second to read an existing one. Not synced by itself: nothing is sent before
        mark_sent, whose synced commit makes the record durable with the send time; a record lost
        in a power cut before that was never sent (its caller had no answer either)."""
        tag = kite_tag(account_id, client_order_id)
        now = now_text()
        row = await self.database.returning(
            "INSERT INTO idempotency (account_id, client_order_id, kind, fingerprint, tag, state, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *",
            (account_id, client_order_id, kind, fingerprint, tag, PENDING, now, now),
            synced=False,
        )
        record = _record(row) if row is not None else await self.get(account_id, client_order_id)
        assert record is not None
        return record

    async def reclaim(self, account_id: str, client_order_id: str, kind: str, fingerprint: str) -> Record:
        """Reuse a FAILED record (nothing exists at Kite) for other fields."""
        await self._update(
            account_id,
            "UPDATE idempotency SET kind = ?, fingerprint = ?, updated_at = ? "
            "WHERE state = ? AND account_id = ? AND client_order_id = ?",
            (kind, fingerprint, now_text(), FAILED, account_id, client_order_id),
        )
        record = await self.get(account_id, client_order_id)
        assert record is not None
        return record

    async def record_slices(self, account_id: str, client_order_id: str, slices: str) -> None:
        """Store an autosliced order's parent and children (before the record is settled PLACED)."""
        await self._update(
            account_id,
            "UPDATE idempotency SET slices = ?, updated_at = ? WHERE account_id = ? AND client_order_id = ?",
            (slices, now_text(), account_id, client_order_id),
        )

    async def settle(self, account_id: str, client_order_id: str, state: str, order_id: str | None = None,
                     error: str | None = None) -> None:  # fmt: skip
        """The attempt's outcome (PLACED with Kite's order id, or FAILED). Not synced by itself: the
        next synced write (the call's audit entry, on the API path) takes it to the disk. Lost in a
        power cut before that, the record is left as mark_sent made it durable, PENDING and sent,
        which is the state of a gateway that crashed before Kite answered: a retry, or the restart's
        reconciliation, looks in Kite's book for the order's tag before anything is sent again."""
        await self._update(
            account_id,
            "UPDATE idempotency SET state = ?, order_id = ?, error = ?, updated_at = ? "
            "WHERE account_id = ? AND client_order_id = ?",
            (state, order_id, error, now_text(), account_id, client_order_id),
            synced=False,
        )


def _record(row: object) -> Record:
    values = {k: row[k] for k in Record.__dataclass_fields__}  # type: ignore[index]
    values["sent_at"] = datetime.fromisoformat(values["sent_at"]) if values["sent_at"] else None
    return Record(**values)

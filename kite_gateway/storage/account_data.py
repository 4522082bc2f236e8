"""Everything the gateway stores about one account, table by table: read out (an export for the
account holder) or deleted (an erasure).

Which rows are the account's is data (ACCOUNT_TABLES): one entry per table, in the order an erasure
deletes them (rows referring to others first). A table a later migration adds (fills, order
charges, fill gaps) is listed already and skipped while the schema lacks it; a test fails when a
migration adds a table with an account_id column that is not listed. Sealed columns (sealed_*: an
access token) are never exported, not even sealed.

Whether the account still has open orders is read from the order updates stored for it: each
order's last status (`order_statuses`).

An erasure runs in one transaction and appends its own audit entry in it, after the account's
audit rows are deleted: that entry (who, when, how many rows of each table) is the proof of the
erasure and holds none of the erased data; the proofs of earlier erasures are kept too."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kite_gateway.storage.audit import AuditLog
from kite_gateway.storage.database import Database, Queries
from kite_gateway.storage.sealing import AtRest, is_sealed

SEALED_PREFIX = "sealed_"  # columns holding sealed secrets: left out of an export
# Columns of trading data sealed at rest (kite_gateway/storage/rekey.py SEALED_COLUMNS): opened in an export.
OPENED_COLUMNS = {"order_updates": ("payload",), "audit": ("request_json",)}


class SealedUnreadable(Exception):
    """Sealed trading data, and no key to open it with."""


# kite_gateway.v1.AuditAction of the entries these append (a test holds them equal to the proto's)
AUDIT_ACTION_EXPORT_ACCOUNT = 16
AUDIT_ACTION_ERASE_ACCOUNT = 17
PRINCIPAL = "cli"


@dataclass(frozen=True)
class AccountTable:
    """The rows of `table` that are one account's: those meeting `where` (SQL with one `?`, the
    account id); an erasure leaves those also meeting `kept` (SQL; "" for none)."""

    table: str
    where: str = "account_id = ?"
    kept: str = ""

    @property
    def erased(self) -> str:
        """The condition of the rows an erasure deletes."""
        return f"({self.where}) AND NOT ({self.kept})" if self.kept else self.where


ACCOUNT_TABLES: tuple[AccountTable, ...] = (
    AccountTable("order_updates"),
    AccountTable("idempotency"),
    AccountTable("order_requests"),
    AccountTable("duplicate_orders"),
    AccountTable("kill_switches"),
    AccountTable("signal_orders"),  # the account's legs of each signal (the signals are the strategies')
    AccountTable("alert_deliveries", "sequence IN (SELECT sequence FROM alerts WHERE scope = ?)"),
    AccountTable("alerts", "scope = ?"),  # an alert's scope: the instrument, account or strategy it is about
    AccountTable("exit_events", "scope = 'account' AND scope_id = ?"),
    AccountTable("fills"),  # migration 13 (fills and their charges, and the gaps in them)
    AccountTable("order_charges"),
    AccountTable("fill_gaps"),
    AccountTable("fill_watch"),
    AccountTable("audit", kept=f"action = {AUDIT_ACTION_ERASE_ACCOUNT}"),  # earlier erasures' proofs stay
    AccountTable("accounts"),  # last: the credentials' row (its app, shared by accounts, stays)
)


def _row(row: Any) -> dict[str, Any]:
    """A row as a dict of its columns, sealed ones left out (sqlite3.Row and asyncpg.Record alike)."""
    return {key: value for key, value in zip(row.keys(), row, strict=True) if not str(key).startswith(SEALED_PREFIX)}


class AccountData:
    def __init__(
        self,
        database: Database,
        tables: tuple[AccountTable, ...] = ACCOUNT_TABLES,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        at_rest: AtRest | None = None,
    ) -> None:
        """`at_rest`: opens the trading data sealed at rest (order-update payloads, audit request
        bodies), which an export writes in the clear and the open-order check reads; without it a
        sealed value cannot be read, and the open-order check refuses."""
        self.database = database
        self.tables = tables
        self._now = now
        self.at_rest = at_rest

    def _open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored  # stored in the clear by an older version
        if self.at_rest is None:
            raise SealedUnreadable("the account's order updates and audit bodies are sealed at rest: give the "
                                   "gateway's sealing key (KITE_GATEWAY_SECRET_KEY or KITE_GATEWAY_SECRET_KEY_FILE) "
                                   "to read them")  # fmt: skip
        return self.at_rest.open(stored)

    async def _present(self) -> list[AccountTable]:
        names = await self.database.tables()
        return [entry for entry in self.tables if entry.table in names]

    async def order_statuses(self, account_id: str) -> dict[str, str]:
        """Each of the account's orders and the status its last stored update gave it (whether
        that is open is the caller's to say: kite_gateway/core/orders/status.py)."""
        rows = await self.database.fetch_all(
            "SELECT u.order_id, u.payload FROM order_updates u WHERE u.account_id = ? AND u.order_id <> '' "
            "AND u.sequence = (SELECT MAX(v.sequence) FROM order_updates v "
            "WHERE v.account_id = u.account_id AND v.order_id = u.order_id) ORDER BY u.sequence",
            (account_id,),
        )
        return {str(row["order_id"]): str(json.loads(self._open(row["payload"])).get("status") or "") for row in rows}

    async def export(self, account_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every row of the account, by table (sealed columns left out)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for entry in await self._present():
            rows = await self.database.fetch_all(f"SELECT * FROM {entry.table} WHERE {entry.where}", (account_id,))
            found[entry.table] = [self._opened(entry.table, _row(row)) for row in rows]
        return found

    def _opened(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """A row with its values sealed at rest opened (an export is for the account's holder to read)."""
        for column in OPENED_COLUMNS.get(table, ()):
            if isinstance(row.get(column), str):
                row[column] = self._open(row[column])
        return row

    async def audit_export(self, account_id: str, counts: dict[str, int], out: str) -> int:
        """Record an export (who, where to, how many rows of each table); the entry's id."""
        body = json.dumps({"out": out, "rows": counts}, sort_keys=True)
        return await AuditLog(self.database).append(
            self._now(), PRINCIPAL, account_id, AUDIT_ACTION_EXPORT_ACCOUNT, "", "", body, 0,
            f"exported {sum(counts.values())} row(s)", 0.0,
        )  # fmt: skip

    async def erasable(self, account_id: str) -> dict[str, int]:
        """How many rows an erasure of the account would delete, by table."""
        counts: dict[str, int] = {}
        for entry in await self._present():
            row = await self.database.fetch_one(
                f"SELECT COUNT(*) AS n FROM {entry.table} WHERE {entry.erased}", (account_id,)
            )
            counts[entry.table] = int(row["n"]) if row else 0
        return counts

    async def erase(self, account_id: str) -> dict[str, int]:
        """Delete every row of the account from every table, and record that (and how many rows of
        each table) in the audit trail, all in one transaction; rows deleted per table."""
        present = await self._present()
        started = self._now()
        counts: dict[str, int] = {}
        async with self.database.transaction() as tx:
            for entry in present:
                counts[entry.table] = await tx.execute(f"DELETE FROM {entry.table} WHERE {entry.erased}", (account_id,))
            await _append_erasure(tx, started, account_id, counts)
        return counts


async def _append_erasure(tx: Queries, time: datetime, account_id: str, counts: dict[str, int]) -> int:
    body = json.dumps({"rows": counts}, sort_keys=True)
    return await tx.insert(
        "INSERT INTO audit (time, principal, account_id, action, client_order_id, order_id, request_json, "
        "status_code, outcome, latency_ms) VALUES (?, ?, ?, ?, '', '', ?, 0, ?, 0)",
        (time.isoformat(), PRINCIPAL, account_id, AUDIT_ACTION_ERASE_ACCOUNT, body,
         f"erased {sum(counts.values())} row(s)"),
        returning="event_id",
    )  # fmt: skip

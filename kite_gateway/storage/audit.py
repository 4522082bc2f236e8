"""The append-only audit trail of order actions: who asked for what, when, and Kite's answer.

Every entry is bounded, whatever a caller sends: the request body at MAX_REQUEST_JSON characters
(a longer one is stored as a JSON object with its size, its SHA-256 and a prefix), the outcome at
MAX_OUTCOME and each name or id at MAX_NAME, so that no call can grow the database by more than a
few KiB.

With a sealer (the gateway always gives one) the request body, which holds the order's instrument,
side, quantity and prices, is sealed; the rest (who, when, which account and order, the status and
outcome) stays in the clear, to be listed and filtered. Bodies an older version stored in the clear
are read as they are (and sealed by rekey)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kite_gateway.storage.database import Database
from kite_gateway.storage.sealing import Sealer, is_sealed

MAX_REQUEST_JSON = 8192
MAX_OUTCOME = 1024
MAX_NAME = 256
PREFIX = 1024


def bounded_request_json(text: str) -> str:
    """The request body as stored: itself, or a summary when it is longer than MAX_REQUEST_JSON."""
    if len(text) <= MAX_REQUEST_JSON:
        return text
    summary = {
        "truncated": True,
        "characters": len(text),
        "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "prefix": text[:PREFIX],
    }
    return json.dumps(summary)


def _utc(moment: datetime) -> str:
    """A time as the trail stores and compares it: UTC text (text of two offsets does not compare)."""
    return moment.astimezone(UTC).isoformat()


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


@dataclass(frozen=True)
class AuditEntry:
    event_id: int
    time: datetime
    principal: str
    account_id: str
    action: int
    client_order_id: str
    order_id: str
    request_json: str
    status_code: int
    outcome: str
    latency_ms: float


class AuditLog:
    def __init__(
        self,
        database: Database,
        sealer: Sealer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.sealer = sealer  # None: request bodies in the clear (tests of the trail alone)
        self.now = clock  # the gateway's clock: entries are found by the day a report asks for (IST day of it)

    def _body(self, request_json: str) -> str:
        body = bounded_request_json(request_json)
        return body if self.sealer is None else self.sealer.seal(body)

    def _opened(self, stored: str) -> str:
        return self.sealer.unseal(stored) if self.sealer is not None and is_sealed(stored) else stored

    async def append(
        self,
        time: datetime,
        principal: str,
        account_id: str,
        action: int,
        client_order_id: str,
        order_id: str,
        request_json: str,
        status_code: int,
        outcome: str,
        latency_ms: float,
    ) -> int:
        return await self.database.insert(
            "INSERT INTO audit (time, principal, account_id, action, client_order_id, order_id, request_json, "
            "status_code, outcome, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_utc(time), _cut(principal, MAX_NAME), _cut(account_id, MAX_NAME), action,
             _cut(client_order_id, MAX_NAME), _cut(order_id, MAX_NAME), self._body(request_json),
             status_code, _cut(outcome, MAX_OUTCOME), latency_ms),
            returning="event_id",
        )  # fmt: skip

    async def query(
        self,
        account_id: str,
        start: datetime | None,
        end: datetime | None,
        client_order_id: str,
        order_id: str,
        after_event_id: int,
        limit: int,
    ) -> list[AuditEntry]:
        sql = "SELECT * FROM audit WHERE account_id = ? AND event_id > ?"
        params: list[object] = [account_id, after_event_id]
        if start is not None:
            sql += " AND time >= ?"
            params.append(_utc(start))
        if end is not None:
            sql += " AND time < ?"
            params.append(_utc(end))
        if client_order_id:
            sql += " AND client_order_id = ?"
            params.append(client_order_id)
        if order_id:
            sql += " AND order_id = ?"
            params.append(order_id)
        rows = await self.database.fetch_all(sql + " ORDER BY event_id LIMIT ?", [*params, limit])
        return [
            AuditEntry(
                **{
                    **{k: row[k] for k in AuditEntry.__dataclass_fields__},
                    "time": datetime.fromisoformat(row["time"]),
                    "request_json": self._opened(row["request_json"]),
                }
            )
            for row in rows
        ]

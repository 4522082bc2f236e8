"""Gateway alerts (kite_gateway/core/alerts): every alert the engine fired, under one contiguous
sequence (1, 2, 3, ... across the gateway, its restarts and its replicas sharing PostgreSQL: a stream
resumes after the last it saw and can tell a gap from nothing new); the rules made by RPC (beside
the file's); the engine's arming state, so a restarted gateway does not page again about what it
already paged about; and each alert's delivery to each webhook sink (pending, delivered or dead,
with its attempts), so delivery survives a restart and a dead letter stays visible.

The store knows no rule or alert types (storage sits below the core): kinds and severities are
their texts, a rule is its JSON, the state its JSON. Times are given by the caller (its clock) and
kept as UTC text of one width, so they compare as text."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from kite_gateway.storage.database import Database, DuplicateKey, Row

SEQUENCE_ATTEMPTS = 100  # appends from several connections racing for the next sequence retry
PENDING_DELIVERY = "pending"
DELIVERED = "delivered"
DEAD = "dead"


class NewAlert(Protocol):
    """What an alert to store has (kite_gateway.core.alerts.Alert is one)."""

    @property
    def rule_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, str]: ...
    @property
    def at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class StoredAlert:
    sequence: int
    rule_id: str
    kind: str  # an AlertKind's text
    severity: str  # a Severity's text
    scope: str
    title: str
    message: str
    fields: dict[str, str]
    at: datetime


@dataclass(frozen=True, slots=True)
class StoredRule:
    rule_id: str
    body: str  # the rule as JSON, an [[alerts.rules]] table's shape
    principal: str  # who made it
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    sink_id: str
    sequence: int
    state: str  # PENDING_DELIVERY, DELIVERED or DEAD
    attempts: int  # failed attempts so far (and the successful one, once delivered)
    next_attempt_at: datetime
    last_error: str
    updated_at: datetime


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _alert(row: Row) -> StoredAlert:
    return StoredAlert(
        sequence=int(row["sequence"]),
        rule_id=row["rule_id"],
        kind=row["kind"],
        severity=row["severity"],
        scope=row["scope"],
        title=row["title"],
        message=row["message"],
        fields=json.loads(row["fields"]),
        at=datetime.fromisoformat(row["at"]),
    )


def _rule(row: Row) -> StoredRule:
    return StoredRule(row["rule_id"], row["body"], row["principal"], datetime.fromisoformat(row["created_at"]),
                      datetime.fromisoformat(row["updated_at"]))  # fmt: skip


def _delivery(row: Row) -> Delivery:
    return Delivery(
        sink_id=row["sink_id"],
        sequence=int(row["sequence"]),
        state=row["state"],
        attempts=int(row["attempts"]),
        next_attempt_at=datetime.fromisoformat(row["next_attempt_at"]),
        last_error=row["last_error"],
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _numbered(sequence: int, alert: NewAlert) -> StoredAlert:
    return StoredAlert(sequence, alert.rule_id, str(alert.kind), str(alert.severity), alert.scope, alert.title,
                       alert.message, dict(alert.fields), alert.at)  # fmt: skip


def _values(alert: StoredAlert) -> tuple[object, ...]:
    return (alert.sequence, alert.rule_id, alert.kind, alert.severity, alert.scope, alert.title, alert.message,
            json.dumps(alert.fields, sort_keys=True), _text(alert.at))  # fmt: skip


_SAVE_STATE = (
    "INSERT INTO alert_engine_state (state_key, state, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (state_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
)
_ALERT_COLUMNS = "a.sequence, a.rule_id, a.kind, a.severity, a.scope, a.title, a.message, a.fields, a.at"


class AlertStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # --- alerts ----------------------------------------------------------------------------------

    async def append(
        self,
        alerts: Sequence[NewAlert],
        deliver_to: Sequence[Sequence[str]] = (),
        now: datetime | None = None,
        state: tuple[str, str] | None = None,
    ) -> list[StoredAlert]:
        """Store the alerts under the next sequences, in order, and for each a pending delivery to
        every sink of `deliver_to[i]` (due `now`, by default the alert's time), and `state` (a
        (state_key, snapshot JSON) of the engine that fired them, see save_state): all in one
        transaction, so an alert is never stored without its deliveries, nor the engine's state
        without the alerts it says were fired. Another connection may take the next sequence first
        (a replica, PostgreSQL): the whole transaction is tried again."""
        if not alerts:
            if state is not None:
                await self.save_state(*state, now or datetime.now(UTC))
            return []
        if deliver_to and len(deliver_to) != len(alerts):
            raise ValueError("deliver_to must name the sinks of every alert, or be empty")
        for _ in range(SEQUENCE_ATTEMPTS):
            try:
                async with self.database.transaction() as tx:
                    row = await tx.fetch_one("SELECT COALESCE(MAX(sequence), 0) AS last FROM alerts")
                    last = int(row["last"]) if row else 0
                    stored = [_numbered(last + n, alert) for n, alert in enumerate(alerts, 1)]
                    await tx.execute_many(
                        "INSERT INTO alerts (sequence, rule_id, kind, severity, scope, title, message, fields, at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [_values(alert) for alert in stored],
                    )
                    deliveries = [
                        (sink_id, s.sequence, PENDING_DELIVERY, _text(now or s.at), _text(now or s.at))
                        for s, sinks in zip(stored, deliver_to, strict=False)
                        for sink_id in dict.fromkeys(sinks)
                    ]
                    await tx.execute_many(
                        "INSERT INTO alert_deliveries (sink_id, sequence, state, attempts, next_attempt_at, "
                        "last_error, updated_at) VALUES (?, ?, ?, 0, ?, '', ?)",
                        deliveries,
                    )
                    if state is not None:
                        await tx.execute(_SAVE_STATE, (state[0], state[1], _text(now or stored[-1].at)))
                return stored
            except DuplicateKey:  # another connection stored the next sequence first: take the ones after
                continue
        raise RuntimeError("could not take the next alert sequence")

    async def after(self, sequence: int, limit: int = 500) -> list[StoredAlert]:
        """The alerts after `sequence`, oldest first, at most `limit`."""
        rows = await self.database.fetch_all(
            f"SELECT {_ALERT_COLUMNS} FROM alerts a WHERE a.sequence > ? ORDER BY a.sequence LIMIT ?",
            (sequence, limit),
        )
        return [_alert(row) for row in rows]

    async def between(self, start: datetime, end: datetime, limit: int = 10000) -> list[StoredAlert]:
        """The alerts fired within [start, end), oldest first (at most `limit`)."""
        rows = await self.database.fetch_all(
            f"SELECT {_ALERT_COLUMNS} FROM alerts a WHERE a.at >= ? AND a.at < ? ORDER BY a.sequence LIMIT ?",
            (_text(start), _text(end), limit),
        )
        return [_alert(row) for row in rows]

    async def get(self, sequence: int) -> StoredAlert | None:
        row = await self.database.fetch_one(f"SELECT {_ALERT_COLUMNS} FROM alerts a WHERE a.sequence = ?", (sequence,))
        return None if row is None else _alert(row)

    async def last_sequence(self) -> int:
        """The newest alert's sequence; 0 before the first."""
        row = await self.database.fetch_one("SELECT COALESCE(MAX(sequence), 0) AS last FROM alerts")
        return int(row["last"]) if row else 0

    # --- rules made by RPC -----------------------------------------------------------------------

    async def put_rule(self, rule_id: str, body: str, principal: str, now: datetime) -> StoredRule:
        """Create the rule, or replace the one of that id (keeping when it was first created)."""
        stamp = _text(now)
        await self.database.execute(
            "INSERT INTO alert_rules (rule_id, body, principal, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (rule_id) DO UPDATE SET body = excluded.body, principal = excluded.principal, "
            "updated_at = excluded.updated_at",
            (rule_id, body, principal, stamp, stamp),
        )
        stored = await self.get_rule(rule_id)
        assert stored is not None
        return stored

    async def get_rule(self, rule_id: str) -> StoredRule | None:
        row = await self.database.fetch_one("SELECT * FROM alert_rules WHERE rule_id = ?", (rule_id,))
        return None if row is None else _rule(row)

    async def delete_rule(self, rule_id: str) -> bool:
        """Whether there was such a rule."""
        return bool(await self.database.execute("DELETE FROM alert_rules WHERE rule_id = ?", (rule_id,)))

    async def all_rules(self) -> list[StoredRule]:
        rows = await self.database.fetch_all("SELECT * FROM alert_rules ORDER BY rule_id")
        return [_rule(row) for row in rows]

    # --- the engine's state ----------------------------------------------------------------------

    async def save_state(self, state_key: str, state: str, now: datetime) -> None:
        await self.database.execute(_SAVE_STATE, (state_key, state, _text(now)))

    async def load_state(self, state_key: str) -> str | None:
        row = await self.database.fetch_one("SELECT state FROM alert_engine_state WHERE state_key = ?", (state_key,))
        return None if row is None else str(row["state"])

    # --- deliveries ------------------------------------------------------------------------------

    async def due(self, now: datetime, limit: int = 100) -> list[tuple[Delivery, StoredAlert]]:
        """Pending deliveries whose next attempt is at or before `now`, earliest first, each with its alert."""
        rows = await self.database.fetch_all(
            f"SELECT d.sink_id, d.state, d.attempts, d.next_attempt_at, d.last_error, d.updated_at, {_ALERT_COLUMNS} "
            "FROM alert_deliveries d JOIN alerts a ON a.sequence = d.sequence "
            "WHERE d.state = ? AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.sequence, d.sink_id LIMIT ?",
            (PENDING_DELIVERY, _text(now), limit),
        )
        return [(_delivery(row), _alert(row)) for row in rows]

    async def delivery(self, sink_id: str, sequence: int) -> Delivery | None:
        row = await self.database.fetch_one(
            "SELECT * FROM alert_deliveries WHERE sink_id = ? AND sequence = ?", (sink_id, sequence)
        )
        return None if row is None else _delivery(row)

    async def claim(self, delivery: Delivery, until: datetime) -> bool:
        """Take a due delivery for one attempt: its next attempt moved to `until`, only if it is still
        as `due` read it. Of several deliverers (replicas) that read it due, one wins; one that dies
        mid-attempt leaves it due again at `until`."""
        changed = await self.database.execute(
            "UPDATE alert_deliveries SET next_attempt_at = ? "
            "WHERE sink_id = ? AND sequence = ? AND state = ? AND next_attempt_at = ?",
            (_text(until), delivery.sink_id, delivery.sequence, PENDING_DELIVERY, _text(delivery.next_attempt_at)),
        )
        return bool(changed)

    async def mark_delivered(self, sink_id: str, sequence: int, now: datetime) -> None:
        stamp = _text(now)
        await self.database.execute(
            "UPDATE alert_deliveries SET state = ?, attempts = attempts + 1, last_error = '', updated_at = ? "
            "WHERE sink_id = ? AND sequence = ? AND state = ?",
            (DELIVERED, stamp, sink_id, sequence, PENDING_DELIVERY),
        )

    async def mark_failed(self, sink_id: str, sequence: int, error: str, next_at: datetime, now: datetime) -> None:
        """One more failed attempt; the next one at `next_at`."""
        await self.database.execute(
            "UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? "
            "WHERE sink_id = ? AND sequence = ? AND state = ?",
            (error, _text(next_at), _text(now), sink_id, sequence, PENDING_DELIVERY),
        )

    async def mark_dead(self, sink_id: str, sequence: int, error: str, now: datetime) -> None:
        """The last attempt failed too: a dead letter (kept, no more attempts)."""
        await self.database.execute(
            "UPDATE alert_deliveries SET state = ?, attempts = attempts + 1, last_error = ?, updated_at = ? "
            "WHERE sink_id = ? AND sequence = ? AND state = ?",
            (DEAD, error, _text(now), sink_id, sequence, PENDING_DELIVERY),
        )

    async def dead_letters(self, sink_id: str | None = None, limit: int = 500) -> list[Delivery]:
        """Dead deliveries (of one sink, or of all), oldest alert first."""
        if sink_id is None:
            rows = await self.database.fetch_all(
                "SELECT * FROM alert_deliveries WHERE state = ? ORDER BY sequence, sink_id LIMIT ?", (DEAD, limit)
            )
        else:
            rows = await self.database.fetch_all(
                "SELECT * FROM alert_deliveries WHERE state = ? AND sink_id = ? ORDER BY sequence LIMIT ?",
                (DEAD, sink_id, limit),
            )
        return [_delivery(row) for row in rows]

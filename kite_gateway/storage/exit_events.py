"""Automatic exits that fired: one row per (trading day, scope, rule), claimed before anything is
done, so a rule fires once a day even across restarts and replicas; then what was done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from kite_gateway.storage.database import Database, Row, now_text


@dataclass(frozen=True, slots=True)
class StoredExit:
    event_id: int
    trading_day: date
    scope: str  # "account" or "strategy"
    scope_id: str
    rule: str
    reason: str
    pnl: str  # decimal strings
    threshold: str
    peak: str  # "" when the rule has no peak
    utilisation: str  # "" when not known
    square_off: bool
    outcome: str  # what was done ("" while it is being done)
    created_at: datetime


def _stored(row: Row) -> StoredExit:
    return StoredExit(
        event_id=row["event_id"],
        trading_day=date.fromisoformat(row["trading_day"]),
        scope=row["scope"],
        scope_id=row["scope_id"],
        rule=row["rule"],
        reason=row["reason"],
        pnl=row["pnl"],
        threshold=row["threshold"],
        peak=row["peak"],
        utilisation=row["utilisation"],
        square_off=bool(row["square_off"]),
        outcome=row["outcome"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


class ExitEventLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def claim(
        self,
        trading_day: date,
        scope: str,
        scope_id: str,
        rule: str,
        reason: str,
        pnl: str,
        threshold: str,
        peak: str,
        utilisation: str,
        square_off: bool,
    ) -> StoredExit | None:
        """Record a rule crossed; None when it was recorded already for that day (by this process
        before a restart, or by another replica)."""
        changed = await self.database.execute(
            "INSERT INTO exit_events (trading_day, scope, scope_id, rule, reason, pnl, threshold, peak, "
            "utilisation, square_off, outcome, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?) "
            "ON CONFLICT DO NOTHING",
            (trading_day.isoformat(), scope, scope_id, rule, reason, pnl, threshold, peak, utilisation,
             int(square_off), now_text()),
        )  # fmt: skip
        if not changed:
            return None
        row = await self.database.fetch_one(
            "SELECT * FROM exit_events WHERE trading_day = ? AND scope = ? AND scope_id = ? AND rule = ?",
            (trading_day.isoformat(), scope, scope_id, rule),
        )
        assert row is not None
        return _stored(row)

    async def finish(self, event_id: int, outcome: str) -> None:
        await self.database.execute("UPDATE exit_events SET outcome = ? WHERE event_id = ?", (outcome, event_id))

    async def of_day(self, trading_day: date) -> list[StoredExit]:
        rows = await self.database.fetch_all(
            "SELECT * FROM exit_events WHERE trading_day = ? ORDER BY event_id", (trading_day.isoformat(),)
        )
        return [_stored(row) for row in rows]

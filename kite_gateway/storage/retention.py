"""Retention: rows older than their table's window are deleted, oldest first, in bounded batches.

Which tables are pruned, and by which time column, is data (RETENTION_RULES): a table a later
migration adds (fills) is listed already and skipped while the schema does not have it. Each batch is one DELETE of
at most about `batch` rows, committed on its own, so that no run holds a long lock; the batch's
bound is the time of its `batch`-th oldest row (no key needed, only the indexed time column), so
rows sharing that exact time go with it. Two processes pruning one database at once (replicas
sharing PostgreSQL) only split the work: a row deleted by one is not there for the other.

An account's newest order update is never pruned: the next update's sequence is the newest plus
one, and a resume from a pruned sequence is told of the gap from that sequence to the oldest kept
(kite_gateway/core/order_updates/replay.py), so the sequence must never start again at 1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from kite_gateway.storage.database import Database

log = structlog.get_logger(__name__)

BATCH = 1000  # rows per DELETE


@dataclass(frozen=True)
class RetentionRule:
    """A table pruned by its `time_column` (UTC ISO text, so that it compares as text); `keep`: a
    condition a row must also meet to be pruned (SQL on the table's columns; "" for none)."""

    table: str
    time_column: str
    keep: str = ""


ORDER_UPDATES = "order_updates"
AUDIT = "audit"
FILLS = "fills"

RETENTION_RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        ORDER_UPDATES,
        "received_at",
        keep="sequence < (SELECT MAX(newest.sequence) FROM order_updates newest "
        "WHERE newest.account_id = order_updates.account_id)",
    ),
    RetentionRule(AUDIT, "time"),
    RetentionRule(FILLS, "filled_at"),  # migration 13 adds it; skipped where the schema has not got it yet
)


def retention_windows(order_updates: int, audit: int, fills: int) -> dict[str, int]:
    """The windows (days; 0: forever) of RETENTION_RULES' tables, by table."""
    return {ORDER_UPDATES: order_updates, AUDIT: audit, FILLS: fills}


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class Retention:
    """Prunes each rule's table by its window (`windows`: table -> days kept; 0, or a table not
    named, keeps its rows forever)."""

    def __init__(
        self,
        database: Database,
        windows: Mapping[str, int],
        rules: tuple[RetentionRule, ...] = RETENTION_RULES,
        batch: int = BATCH,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if batch < 1:
            raise ValueError("a batch is at least one row")
        self.database = database
        self.windows = dict(windows)
        self.rules = rules
        self.batch = batch
        self._now = now

    async def prune(self) -> dict[str, int]:
        """One round: every table with a window pruned of the rows older than it; rows deleted per table."""
        present = await self.database.tables()
        pruned: dict[str, int] = {}
        for rule in self.rules:
            days = self.windows.get(rule.table, 0)
            if days <= 0 or rule.table not in present:
                continue
            pruned[rule.table] = await self.prune_table(rule, self._now() - timedelta(days=days))
        return pruned

    async def prune_table(self, rule: RetentionRule, before: datetime) -> int:
        """Delete the rule's rows older than `before`, a batch per statement; how many."""
        where = f"{rule.time_column} < ?" + (f" AND {rule.keep}" if rule.keep else "")
        cutoff = _text(before)
        total = 0
        while True:
            bound = await self.database.fetch_one(
                f"SELECT {rule.time_column} AS bound FROM {rule.table} WHERE {where} "
                f"ORDER BY {rule.time_column} LIMIT 1 OFFSET ?",
                (cutoff, self.batch - 1),
            )
            if bound is None:  # fewer than a batch left: the last statement takes them all
                total += await self.database.execute(f"DELETE FROM {rule.table} WHERE {where}", (cutoff,))
                return total
            total += await self.database.execute(
                f"DELETE FROM {rule.table} WHERE {where} AND {rule.time_column} <= ?", (cutoff, bound["bound"])
            )
            await asyncio.sleep(0)  # let the gateway's other work in between batches


async def keep_pruning(
    retention: Retention,
    every: float,
    on_pruned: Callable[[dict[str, int]], None] = lambda _pruned: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Prune a round every `every` seconds until cancelled, handing each round's counts to
    `on_pruned`; a round that fails (the database away, a bug) is logged, and the next one runs."""
    while True:
        await sleep(every)
        try:
            pruned = await retention.prune()
        except Exception:  # one failed round must not end the pruning for good
            log.exception("retention.prune_failed")
            continue
        on_pruned(pruned)
        if any(pruned.values()):
            log.info("retention.pruned", **pruned)

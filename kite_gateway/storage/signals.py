"""Strategy signals: each one kept under its caller's (strategy_id, signal_id) with a fingerprint of
what it asked, so a retry gets the stored signal back instead of a second one; its state, changed
only from the state the caller saw (two deciders, an approver and the expiry sweeper, cannot both
win); every change as an event under one contiguous sequence (1, 2, 3, ... across all signals: a
stream resumes after the last it saw and can tell a gap from nothing new); and the orders each
signal made, by account, for lineage and for the square-off of a strategy.

States are the texts of kite_gateway.core.signals.SignalState; which moves are allowed is the
core's business, not the store's. Times are given by the caller (its clock) and kept as UTC text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage.database import Database, DuplicateKey, Queries, Row

SEQUENCE_ATTEMPTS = 100  # moves from several processes racing for the next sequence retry


@dataclass(frozen=True, slots=True)
class StoredSignal:
    strategy_id: str
    signal_id: str
    fingerprint: str
    body: str  # the signal as JSON (kite_gateway/core/signals/service.py writes and reads it)
    principal: str
    state: str
    reason: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None  # the approval deadline of a pending signal


@dataclass(frozen=True, slots=True)
class SignalEvent:
    sequence: int
    strategy_id: str
    signal_id: str
    state: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SignalOrder:
    strategy_id: str
    signal_id: str
    account_id: str
    client_order_id: str
    order_id: str  # "" until placed
    status: str  # "sending", "placed" or "failed"
    detail: str  # why it failed
    leg: str = ""  # the planned order as JSON (resuming a signal re-sends exactly this)
    notional: str = "0"  # quantity x reference price, exact decimal text
    created_at: datetime | None = None


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _signal(row: Row) -> StoredSignal:
    return StoredSignal(
        strategy_id=row["strategy_id"],
        signal_id=row["signal_id"],
        fingerprint=row["fingerprint"],
        body=row["body"],
        principal=row["principal"],
        state=row["state"],
        reason=row["reason"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        expires_at=_time(row["expires_at"]),
    )


def _event(row: Row) -> SignalEvent:
    return SignalEvent(int(row["sequence"]), row["strategy_id"], row["signal_id"], row["state"], row["reason"],
                       datetime.fromisoformat(row["created_at"]))  # fmt: skip


def _order(row: Row) -> SignalOrder:
    values = {name: row[name] for name in SignalOrder.__dataclass_fields__}
    values["created_at"] = _time(row["created_at"] or None)
    return SignalOrder(**values)


async def _append_event(tx: Queries, strategy_id: str, signal_id: str, state: str, reason: str, now: str) -> None:
    await tx.execute(
        "INSERT INTO signal_events (sequence, strategy_id, signal_id, state, reason, created_at) "
        "SELECT COALESCE(MAX(sequence), 0) + 1, ?, ?, ?, ?, ? FROM signal_events",
        (strategy_id, signal_id, state, reason, now),
    )


class SignalStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, strategy_id: str, signal_id: str) -> StoredSignal | None:
        row = await self.database.fetch_one(
            "SELECT * FROM signals WHERE strategy_id = ? AND signal_id = ?", (strategy_id, signal_id)
        )
        return None if row is None else _signal(row)

    async def recent(self, strategy_id: str, limit: int = 100) -> list[StoredSignal]:
        """The strategy's newest signals first."""
        rows = await self.database.fetch_all(
            "SELECT * FROM signals WHERE strategy_id = ? ORDER BY created_at DESC, signal_id DESC LIMIT ?",
            (strategy_id, limit),
        )
        return [_signal(row) for row in rows]

    async def claim(
        self, strategy_id: str, signal_id: str, fingerprint: str, body: str, principal: str, state: str,
        now: datetime,
    ) -> tuple[StoredSignal, bool]:  # fmt: skip
        """Store a new signal in `state` (and its first event): (it, True). The same id stored before
        with the same fingerprint: (that one, untouched, False). With another fingerprint:
        ALREADY_EXISTS, as PlaceOrder refuses a reused client_order_id."""
        stamp = _text(now)
        for _ in range(SEQUENCE_ATTEMPTS):
            try:
                async with self.database.transaction() as tx:
                    created = await tx.execute(
                        "INSERT INTO signals (strategy_id, signal_id, fingerprint, body, principal, state, reason, "
                        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?) ON CONFLICT DO NOTHING",
                        (strategy_id, signal_id, fingerprint, body, principal, state, stamp, stamp),
                    )
                    if created:
                        await _append_event(tx, strategy_id, signal_id, state, "", stamp)
                break
            except DuplicateKey:  # another connection took the next sequence first
                continue
        else:
            raise RuntimeError("could not take the next signal-event sequence")
        stored = await self.get(strategy_id, signal_id)
        assert stored is not None
        if stored.fingerprint != fingerprint:
            raise GatewayError(
                Status.ALREADY_EXISTS,
                Reason.IDEMPOTENCY_KEY_REUSED,
                f"signal_id {signal_id!r} of strategy {strategy_id!r} was already used for a different signal; "
                "choose a new signal_id for a new signal",
                {"strategy_id": strategy_id, "signal_id": signal_id},
            )
        return stored, bool(created)

    async def move(
        self, strategy_id: str, signal_id: str, expected: str, state: str, reason: str, now: datetime,
        expires_at: datetime | None = None,
    ) -> StoredSignal | None:  # fmt: skip
        """Change a signal from `expected` to `state` and append the event; None (nothing changed)
        when it is no longer `expected` (someone else moved it first) or is not stored."""
        stamp = _text(now)
        for _ in range(SEQUENCE_ATTEMPTS):
            try:
                async with self.database.transaction() as tx:
                    changed = await tx.execute(
                        "UPDATE signals SET state = ?, reason = ?, updated_at = ?, "
                        "expires_at = COALESCE(?, expires_at) WHERE strategy_id = ? AND signal_id = ? AND state = ?",
                        (state, reason, stamp, None if expires_at is None else _text(expires_at), strategy_id,
                         signal_id, expected),
                    )  # fmt: skip
                    if changed:
                        await _append_event(tx, strategy_id, signal_id, state, reason, stamp)
                break
            except DuplicateKey:
                continue
        else:
            raise RuntimeError("could not take the next signal-event sequence")
        return await self.get(strategy_id, signal_id) if changed else None

    async def events_after(self, sequence: int, limit: int = 500) -> list[SignalEvent]:
        rows = await self.database.fetch_all(
            "SELECT * FROM signal_events WHERE sequence > ? ORDER BY sequence LIMIT ?", (sequence, limit)
        )
        return [_event(row) for row in rows]

    async def newest_sequence(self) -> int:
        row = await self.database.fetch_one("SELECT COALESCE(MAX(sequence), 0) AS newest FROM signal_events")
        return int(row["newest"]) if row is not None else 0

    async def pending_expired(self, now: datetime) -> list[StoredSignal]:
        """Signals pending approval whose deadline is at or before `now`."""
        rows = await self.database.fetch_all(
            "SELECT * FROM signals WHERE state = 'PENDING_APPROVAL' AND expires_at IS NOT NULL AND expires_at <= ? "
            "ORDER BY expires_at",
            (_text(now),),
        )
        return [_signal(row) for row in rows]

    async def add_order(self, strategy_id: str, signal_id: str, account_id: str, client_order_id: str,
                        now: datetime, leg: str = "", notional: str = "0") -> None:  # fmt: skip
        """Record an order about to be sent (kept as it is when a retry records it again)."""
        await self.database.execute(
            "INSERT INTO signal_orders (strategy_id, signal_id, account_id, client_order_id, status, updated_at, "
            "leg, notional, created_at) VALUES (?, ?, ?, ?, 'sending', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (strategy_id, signal_id, account_id, client_order_id, _text(now), leg, notional, _text(now)),
        )

    async def set_order(self, strategy_id: str, signal_id: str, account_id: str, order_id: str, status: str,
                        now: datetime, detail: str = "") -> None:  # fmt: skip
        await self.database.execute(
            "UPDATE signal_orders SET order_id = ?, status = ?, detail = ?, updated_at = ? "
            "WHERE strategy_id = ? AND signal_id = ? AND account_id = ?",
            (order_id, status, detail, _text(now), strategy_id, signal_id, account_id),
        )

    async def orders_of(self, strategy_id: str, signal_id: str) -> list[SignalOrder]:
        rows = await self.database.fetch_all(
            "SELECT * FROM signal_orders WHERE strategy_id = ? AND signal_id = ? ORDER BY account_id",
            (strategy_id, signal_id),
        )
        return [_order(row) for row in rows]

    async def usage_since(self, strategy_id: str, since: datetime) -> tuple[int, list[str]]:
        """The strategy's orders recorded since `since` that were not refused: how many, and the
        notional of each (exact decimal text), for its day budget."""
        rows = await self.database.fetch_all(
            "SELECT notional FROM signal_orders WHERE strategy_id = ? AND created_at >= ? AND status <> 'failed'",
            (strategy_id, _text(since)),
        )
        return len(rows), [row["notional"] for row in rows]

    async def unfinished(self, before: datetime) -> list[StoredSignal]:
        """Signals left RECEIVED, APPROVED or ROUTING since before `before`: interrupted (a crash, a
        caller that gave up, an order whose outcome was unknown) and to be resumed."""
        rows = await self.database.fetch_all(
            "SELECT * FROM signals WHERE state IN ('RECEIVED', 'APPROVED', 'ROUTING') AND updated_at < ? "
            "ORDER BY updated_at",
            (_text(before),),
        )
        return [_signal(row) for row in rows]

    async def halt(self, strategy_id: str, trading_day: str, reason: str, now: datetime) -> bool:
        """Halt the strategy for its trading day; False when it already was."""
        return bool(
            await self.database.execute(
                "INSERT INTO strategy_halts (strategy_id, trading_day, reason, halted_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (strategy_id, trading_day, reason, _text(now)),
            )
        )

    async def halted(self, strategy_id: str, trading_day: str) -> str | None:
        """Why the strategy is halted on that trading day; None when it is not."""
        row = await self.database.fetch_one(
            "SELECT reason FROM strategy_halts WHERE strategy_id = ? AND trading_day = ?", (strategy_id, trading_day)
        )
        return None if row is None else str(row["reason"])

    async def orders_of_strategy(self, strategy_id: str) -> list[tuple[str, str]]:
        """The (account_id, order_id) of every order placed for the strategy: exit_scope's StrategyOrders."""
        rows = await self.database.fetch_all(
            "SELECT account_id, order_id FROM signal_orders WHERE strategy_id = ? AND order_id <> '' "
            "ORDER BY account_id, order_id",
            (strategy_id,),
        )
        return [(row["account_id"], row["order_id"]) for row in rows]

"""Order updates of every account, from whatever reports them (the ticker's `order` messages,
confirmed postbacks, the order book after a gap), de-duplicated into the durable log; the streams
listening to an account are woken when its log grows and handed gap markers. After an outage the
order book is reconciled against the log: every order whose state differs from the last one stored
gets an update, and the listeners are told of the gap and of what was done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from kite_gateway.core.order_updates.events import Gap, GapAction, GapReason, UpdateSource
from kite_gateway.errors import GatewayError
from kite_gateway.observability import ORDER_UPDATES
from kite_gateway.storage import OrderUpdateLog

log = structlog.get_logger(__name__)

# Fields of a postback or ticker message that are not order fields.
ENVELOPE_FIELDS = ("user_id", "app_id", "unfilled_quantity", "checksum")
DUPLICATE = "_duplicate"  # in a stored update's order: the gateway's duplicate-order marker

OrderBook = Callable[[], Awaitable[list[dict[str, Any]]]]  # reads the account's order book from Kite
OnStored = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]


def kite_text_times(order: Mapping[str, Any]) -> dict[str, Any]:
    """An order with its datetimes as Kite's strings (as the ticker and postbacks spell them)."""
    return {k: (v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v) for k, v in order.items()}


@dataclass(eq=False)
class Listener:
    """One stream of an account's updates: woken when the account's log grows, handed gap markers."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    gaps: list[Gap] = field(default_factory=list)


class OrderUpdateFeed:
    def __init__(self, updates: OrderUpdateLog, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.log = updates
        self.listeners: dict[str, set[Listener]] = {}
        self._now = now
        self._outage_started: dict[str, tuple[datetime, GapReason]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Called with each newly stored order (the duplicate-order check).
        self.on_stored: list[OnStored] = []
        # Called with (account, sequence) once an update is stored, and with each gap marker: the
        # clustered mode relays them to the listeners on other replicas (kite_gateway.cluster).
        self.on_appended: list[Callable[[str, int], None]] = []
        self.on_gap: list[Callable[[str, Gap], None]] = []

    async def ingest(self, account_id: str, order: Mapping[str, Any], source: UpdateSource) -> bool:
        """Store an update unless it is a repeat, and wake the account's listeners."""
        body = {k: v for k, v in order.items() if k not in ENVELOPE_FIELDS and k != DUPLICATE}
        stored = await self.log.append(account_id, body, int(source))
        if stored is not None:
            ORDER_UPDATES.labels(account_id, str(body.get("status") or "UNKNOWN")).inc()
            self._stored(account_id, stored.sequence)
            for hook in self.on_stored:
                self.background(hook(account_id, body))
        return stored is not None

    async def report_duplicate(self, account_id: str, order: Mapping[str, Any], marker: Mapping[str, Any]) -> None:
        """Tell subscribers of a duplicate order (and what was done): an update with source GATEWAY
        whose order is the duplicate as Kite last reported it. `marker` is the report's fields
        (client_order_id, kept_order_id, duplicate_order_id, action, message: see DuplicateReport)."""
        body = kite_text_times({k: v for k, v in order.items() if k not in ENVELOPE_FIELDS})
        key = f"duplicate|{marker['duplicate_order_id']}"
        stored = await self.log.append(account_id, {**body, DUPLICATE: dict(marker)}, int(UpdateSource.GATEWAY), key)
        if stored is not None:
            self._stored(account_id, stored.sequence)

    # Gaps -------------------------------------------------------------------------------------

    def outage_began(self, account_id: str, reason: GapReason) -> None:
        """Updates of the account may be missed from now (kept as it is if an outage is already open)."""
        self._outage_started.setdefault(account_id, (self._now(), reason))

    def upstream_back(self, account_id: str, book: OrderBook) -> None:
        """The account's updates flow again: reconcile the open outage (if any) in the background."""
        if account_id in self._outage_started:
            since, reason = self._outage_started.pop(account_id)
            self.background(self.reconcile(account_id, book, since, reason))

    async def reconcile(
        self, account_id: str, book: OrderBook, since: datetime, reason: GapReason = GapReason.UPSTREAM_DISCONNECTED
    ) -> int:
        """Store an update (source RECONCILIATION) for every order whose state differs from the last
        one stored, and tell the listeners of the gap; how many were stored."""
        try:
            rows = await book()
        except GatewayError as exc:
            self._gap(account_id, since, reason, 0, GapAction.NONE, f"order book unreadable: {exc.message}")
            return 0
        known = await self.log.latest_by_order(account_id)
        emitted = 0
        for row in rows:
            order = kite_text_times(row)
            if known.get(str(order.get("order_id"))) != self.log.key_of(order):
                emitted += await self.ingest(account_id, order, UpdateSource.RECONCILIATION)
        why = (
            "the gateway was not watching this account (started, or restarted)"
            if reason == GapReason.GATEWAY_RESTARTED
            else "the ticker connection was down"
        )
        message = f"{why}; {emitted} update(s) recovered from the order book"
        self._gap(account_id, since, reason, emitted, GapAction.RECONCILED, message)
        log.info("orders.reconciled", account_id=account_id, updates=emitted)
        return emitted

    def _gap(
        self, account_id: str, since: datetime, reason: GapReason, count: int, action: GapAction, message: str
    ) -> None:
        gap = Gap(reason=reason, action=action, reconciled_updates=count, message=message, start=since, end=self._now())
        self.deliver_gap(account_id, gap)
        for hook in self.on_gap:
            hook(account_id, gap)

    def deliver_gap(self, account_id: str, gap: Gap) -> None:
        """Hand a gap marker to this process's listeners of the account."""
        for listener in self.listeners.get(account_id, ()):
            listener.gaps.append(gap)
            listener.wake.set()

    # Listeners and tasks ----------------------------------------------------------------------

    def listen(self, account_id: str) -> Listener:
        listener = Listener()
        self.listeners.setdefault(account_id, set()).add(listener)
        return listener

    def forget(self, account_id: str, listener: Listener) -> None:
        self.listeners.get(account_id, set()).discard(listener)

    def _stored(self, account_id: str, sequence: int) -> None:
        self.wake(account_id)
        for hook in self.on_appended:
            hook(account_id, sequence)

    def wake(self, account_id: str) -> None:
        """Wake this process's listeners of the account: they re-read the log after their last sequence."""
        for listener in self.listeners.get(account_id, ()):
            listener.wake.set()

    def background(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run `coroutine` as a task that `stop` waits for."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Finish storing what has arrived, then stop."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

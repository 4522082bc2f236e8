"""Order updates across replicas. The log in the database is the truth: the account's owner appends
to it, and every subscriber, on any replica, reads it after its last sequence (OrderUpdateReplay
re-reads `log.after(last)` whenever it is woken), so what a replica serves is the same contiguous
sequence whoever stored it. The bus only wakes: after each append the owner publishes
(account, sequence) on kg.orders.<account>, and every other replica wakes its listeners of that
account. NATS delivers at most once, so each replica also polls the newest sequence of the accounts
it has listeners for every `poll_every` seconds (and at once when the bus comes back): a listener
never waits longer than that for an update that is stored. Gap markers (not stored) travel on
kg.gaps.<account> to the listeners live at the time, as they reach them on the owner today."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime

import structlog

from kite_gateway.cluster.bus import Bus, Subscription
from kite_gateway.core.order_updates import Gap, GapAction, GapReason, OrderUpdateFeed

log = structlog.get_logger(__name__)

POLL_EVERY = 1.0  # seconds: the longest a stored update waits for a listener when its bus message is lost


def gap_payload(gap: Gap, replica: str) -> bytes:
    return json.dumps(
        {
            "replica": replica,
            "reason": int(gap.reason),
            "action": int(gap.action),
            "reconciled_updates": gap.reconciled_updates,
            "message": gap.message,
            "start": gap.start.isoformat(),
            "end": gap.end.isoformat(),
        }
    ).encode()


def gap_of(message: dict[str, object]) -> Gap:
    return Gap(
        reason=GapReason(int(str(message["reason"]))),
        action=GapAction(int(str(message["action"]))),
        reconciled_updates=int(str(message["reconciled_updates"])),
        message=str(message["message"]),
        start=datetime.fromisoformat(str(message["start"])),
        end=datetime.fromisoformat(str(message["end"])),
    )


class UpdateRelay:
    """One replica's side: publishes what its feed stores, wakes its listeners for what others store."""

    def __init__(self, bus: Bus, feed: OrderUpdateFeed, replica_id: str, poll_every: float = POLL_EVERY) -> None:
        self.bus = bus
        self.feed = feed
        self.replica_id = replica_id
        self.poll_every = poll_every
        self.newest: dict[str, int] = {}  # account -> the newest sequence this replica knows of
        self.woken_by_bus = 0
        self.woken_by_poll = 0
        self._subscriptions: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self._poll_now = asyncio.Event()

    async def start(self) -> None:
        self.feed.on_appended.append(self._appended)
        self.feed.on_gap.append(self._gap)
        self.bus.on_connected.append(self._poll_now.set)  # what was stored while the bus was down
        self._subscriptions = [
            await self.bus.subscribe(self.bus.every_account("orders"), self._on_orders),
            await self.bus.subscribe(self.bus.every_account("gaps"), self._on_gap),
        ]
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        with contextlib.suppress(ValueError):
            self.feed.on_appended.remove(self._appended)
        with contextlib.suppress(ValueError):
            self.feed.on_gap.remove(self._gap)
        with contextlib.suppress(ValueError):
            self.bus.on_connected.remove(self._poll_now.set)

    # This replica stored something ------------------------------------------------------------

    def _appended(self, account_id: str, sequence: int) -> None:
        self.newest[account_id] = max(sequence, self.newest.get(account_id, 0))
        payload = json.dumps({"replica": self.replica_id, "sequence": sequence}).encode()
        self.bus.publish(self.bus.subject("orders", account_id), payload)

    def _gap(self, account_id: str, gap: Gap) -> None:
        self.bus.publish(self.bus.subject("gaps", account_id), gap_payload(gap, self.replica_id))

    # Another replica stored something ---------------------------------------------------------

    def _on_orders(self, name: str, payload: bytes) -> None:
        account_id = self.bus.account_of(name)
        try:
            message = json.loads(payload)
            replica, sequence = str(message["replica"]), int(message["sequence"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("relay.bad_order_wake", account_id=account_id, error=str(exc)[:200])
            return
        if replica == self.replica_id:
            return
        self.newest[account_id] = max(sequence, self.newest.get(account_id, 0))
        if self.feed.listeners.get(account_id):
            self.woken_by_bus += 1
            self.feed.wake(account_id)

    def _on_gap(self, name: str, payload: bytes) -> None:
        account_id = self.bus.account_of(name)
        try:
            message = json.loads(payload)
            if str(message["replica"]) == self.replica_id:
                return
            gap = gap_of(message)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("relay.bad_gap", account_id=account_id, error=str(exc)[:200])
            return
        self.feed.deliver_gap(account_id, gap)

    # The poll: for what the bus lost ----------------------------------------------------------

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_every):
                    await self._poll_now.wait()
            self._poll_now.clear()
            try:
                await self.poll_once()
            except Exception:  # the database may be down a while: poll again next time
                log.exception("relay.poll_failed")

    async def poll_once(self) -> int:
        """Wake the listeners of every account whose log grew beyond what this replica knew; how many accounts."""
        woken = 0
        for account_id in [a for a, listeners in self.feed.listeners.items() if listeners]:
            newest = await self.feed.log.newest(account_id)
            if newest > self.newest.get(account_id, 0):
                self.newest[account_id] = newest
                self.woken_by_poll += 1
                woken += 1
                self.feed.wake(account_id)
        return woken

"""Order updates of every account: taken from the ticker's `order` messages and from Kite's
postbacks, de-duplicated into the durable log, and reconciled against the order book after an
upstream outage (subscribers are told of the gap and what was done)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.core.accounts.session import AccountSession
from kite_gateway.errors import GatewayError
from kite_gateway.kite.limits import EndpointClass
from kite_gateway.observability.metrics import ORDER_UPDATES
from kite_gateway.storage.order_updates import OrderUpdateLog, dedupe_key
from kite_gateway.streaming.tick_streams import TickStreams
from kite_gateway.streaming.ticks import UpstreamState

log = structlog.get_logger(__name__)

# Fields of a postback or ticker message that are not order fields.
ENVELOPE_FIELDS = ("user_id", "app_id", "unfilled_quantity", "checksum")
DUPLICATE = "_duplicate"  # in a stored update's order: the gateway's duplicate-order marker


@dataclass(eq=False)
class Listener:
    """One StreamOrderUpdates call: woken when its account's log grows, handed gap markers."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    gaps: list[order_pb2.OrderUpdateGap] = field(default_factory=list)


class OrderUpdates:
    def __init__(self, updates: OrderUpdateLog, tick_streams: TickStreams) -> None:
        self.log = updates
        self.tick_streams = tick_streams
        self.listeners: dict[str, set[Listener]] = {}
        self._watched: set[tuple[str, str]] = set()
        self._outage_started: dict[str, tuple[float, Any]] = {}  # account -> (since, GapReason)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Called with each newly stored order (the duplicate-order check).
        self.on_stored: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []

    async def ingest(self, account_id: str, order: dict[str, Any], source: int) -> bool:
        """Store an update unless it is a repeat, and wake the account's listeners."""
        order = {k: v for k, v in order.items() if k not in ENVELOPE_FIELDS and k != DUPLICATE}
        stored = await self.log.append(account_id, order, source)
        if stored is not None:
            ORDER_UPDATES.labels(account_id, str(order.get("status") or "UNKNOWN")).inc()
            self._wake(account_id)
            for hook in self.on_stored:
                self._background(hook(account_id, order))
        return stored is not None

    async def report_duplicate(self, account_id: str, order: dict[str, Any], marker: dict[str, Any]) -> None:
        """Tell subscribers of a duplicate order (and what was done): an update with source GATEWAY."""
        body = {k: v for k, v in order.items() if k not in ENVELOPE_FIELDS}
        body = {k: (v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v) for k, v in body.items()}
        key = f"duplicate|{marker['duplicate_order_id']}"
        if await self.log.append(account_id, {**body, DUPLICATE: marker}, order_pb2.ORDER_UPDATE_SOURCE_GATEWAY, key):
            self._wake(account_id)

    def _wake(self, account_id: str) -> None:
        for listener in self.listeners.get(account_id, ()):
            listener.wake.set()

    def _background(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def watching(self, session: AccountSession) -> bool:
        kite = session.active()
        return (session.account_id, kite.client.access_token) in self._watched

    async def watch(self, session: AccountSession, symbols: dict[int, str]) -> None:
        """Make sure the account's ticker connection is open and feeding this log. The first watch
        of an account in this process reconciles the order book once connected, so what happened
        while the gateway was not watching (stopped, or not yet asked) is stored too."""
        kite = session.active()
        streams = await self.tick_streams.get(session.account_id, session.api_key, kite.client.access_token, symbols)
        key = (session.account_id, kite.client.access_token)
        if key not in self._watched:
            first = not any(account == session.account_id for account, _ in self._watched)
            self._watched.add(key)
            account_id = session.account_id
            streams.order_listeners.append(
                lambda order: self._background(self.ingest(account_id, order, order_pb2.ORDER_UPDATE_SOURCE_WEBSOCKET))
            )
            streams.state_listeners.append(lambda before, after, _message: self._on_state(session, before, after))
            if first:
                self._outage_started.setdefault(account_id, (time.time(), order_pb2.GAP_REASON_GATEWAY_RESTARTED))
                if streams.state == UpstreamState.CONNECTED:
                    self._on_state(session, streams.state, streams.state)
        streams.ticker.ensure_connected()

    def _on_state(self, session: AccountSession, before: Any, after: Any) -> None:
        if after == common_pb2.UPSTREAM_STATE_RECONNECTING and before != after:
            self._outage_started.setdefault(
                session.account_id, (time.time(), order_pb2.GAP_REASON_UPSTREAM_DISCONNECTED)
            )
        elif after == common_pb2.UPSTREAM_STATE_CONNECTED and session.account_id in self._outage_started:
            since, reason = self._outage_started.pop(session.account_id)
            self._background(self.reconcile(session, since, reason))

    async def reconcile(
        self, session: AccountSession, since: float, reason: Any = order_pb2.GAP_REASON_UPSTREAM_DISCONNECTED
    ) -> int:
        """Emit an update for every order whose state differs from the last one stored."""
        try:
            rows = await session.active().read(EndpointClass.OTHER, "orders")
        except GatewayError as exc:
            self._gap(
                session.account_id, since, reason, 0, order_pb2.GAP_ACTION_NONE, f"order book unreadable: {exc.message}"
            )
            return 0
        known = await self.log.latest_by_order(session.account_id)
        emitted = 0
        for row in rows:
            order = {k: (v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v) for k, v in row.items()}
            if known.get(str(order.get("order_id"))) != dedupe_key(order):
                emitted += await self.ingest(session.account_id, order, order_pb2.ORDER_UPDATE_SOURCE_RECONCILIATION)
        why = (
            "the gateway was not watching this account (started, or restarted)"
            if reason == order_pb2.GAP_REASON_GATEWAY_RESTARTED
            else "the ticker connection was down"
        )
        message = f"{why}; {emitted} update(s) recovered from the order book"
        self._gap(session.account_id, since, reason, emitted, order_pb2.GAP_ACTION_RECONCILED, message)
        log.info("orders.reconciled", account_id=session.account_id, updates=emitted)
        return emitted

    def _gap(self, account_id: str, since: float, reason: Any, count: int, action: Any, message: str) -> None:
        gap = order_pb2.OrderUpdateGap(reason=reason, action=action, reconciled_updates=count, message=message)
        gap.start_time.FromNanoseconds(int(since * 1e9))
        gap.end_time.FromDatetime(datetime.now(UTC))
        for listener in self.listeners.get(account_id, ()):
            listener.gaps.append(gap)
            listener.wake.set()

    async def stop(self) -> None:
        """Finish storing what has arrived, then stop."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def listen(self, account_id: str) -> Listener:
        listener = Listener()
        self.listeners.setdefault(account_id, set()).add(listener)
        return listener

    def forget(self, account_id: str, listener: Listener) -> None:
        self.listeners.get(account_id, set()).discard(listener)

"""The order-update feed (kite_gateway/core/order_updates) fed by each account's ticker connection:
its `order` messages are ingested, and its state changes open and close the feed's outages (the
first watch of an account in this process opens one too, so what happened while the gateway was
not watching is reconciled once connected)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kite_gateway.core.accounts import AccountSession
from kite_gateway.core.order_updates import GapReason, OrderBook, OrderUpdateFeed, UpdateSource
from kite_gateway.kite import KiteOrders
from kite_gateway.storage import OrderUpdateLog
from kite_gateway.streaming.tick_streams import TickStreams
from kite_gateway.streaming.ticks import UpstreamState


def order_book(session: AccountSession) -> OrderBook:
    """Reads the account's order book through its current Kite session."""

    async def read() -> list[dict[str, Any]]:
        return [dict(row) for row in await KiteOrders(session.active()).orders()]

    return read


class OrderUpdates(OrderUpdateFeed):
    def __init__(
        self, updates: OrderUpdateLog, tick_streams: TickStreams, owns: Callable[[str], bool] | None = None
    ) -> None:
        super().__init__(updates)
        self.tick_streams = tick_streams
        # Whether this replica owns the account (clustered mode): only the owner reconciles its order
        # book into the log; elsewhere the account's hub mirrors the owner's state. Alone: always.
        self.owns: Callable[[str], bool] = owns or (lambda _account_id: True)
        self._watched: set[tuple[str, str]] = set()

    def watching(self, session: AccountSession) -> bool:
        kite = session.active()
        return (session.account_id, kite.client.access_token) in self._watched

    async def watch_once(self, session: AccountSession, symbols: Callable[[], dict[int, str]]) -> None:
        """`watch` unless the account's current session is watched already."""
        if not self.watching(session):
            await self.watch(session, symbols())

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
                lambda order: self.background(self.ingest(account_id, order, UpdateSource.WEBSOCKET))
            )
            streams.state_listeners.append(lambda before, after, _message: self._on_state(session, before, after))
            if first and self.owns(account_id):
                self.outage_began(account_id, GapReason.GATEWAY_RESTARTED)
                if streams.state == UpstreamState.CONNECTED:
                    self._on_state(session, streams.state, streams.state)
        streams.ticker.ensure_connected()

    def _on_state(self, session: AccountSession, before: Any, after: Any) -> None:
        if not self.owns(session.account_id):
            return
        if after == UpstreamState.RECONNECTING and before != after:
            self.outage_began(session.account_id, GapReason.UPSTREAM_DISCONNECTED)
        elif after == UpstreamState.CONNECTED:
            self.upstream_back(session.account_id, order_book(session))

    def upstream_state(self, account_id: str) -> int | None:
        """The state of the account's ticker connection (an UpstreamState number), None without one."""
        streams = self.tick_streams.find(account_id)
        return None if streams is None else int(streams.state)

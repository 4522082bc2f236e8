"""Ticker alerts' events: every `interval` seconds, each account's tick hub (TickStreams.stats())
as a TickerEvent: CONNECTED (also when STALE: connected but silent, which the engine judges from
the last tick's time) or DOWN (reconnecting after a drop, or given up: a refused token). A hub still
CONNECTING its first connection is not reported until it has an outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from kite_gateway.alert_feeds.outlet import Emit, Outlet
from kite_gateway.alert_feeds.polling import DEFAULT_INTERVAL, Sleep, every
from kite_gateway.core.alerts import TickerEvent, TickerState
from kite_gateway.streaming import AccountTickStats, UpstreamState

STATES = {
    UpstreamState.CONNECTED: TickerState.CONNECTED,
    UpstreamState.STALE: TickerState.CONNECTED,
    UpstreamState.RECONNECTING: TickerState.DOWN,
    UpstreamState.DOWN: TickerState.DOWN,
}


class TickerAlerts:
    """Wire: `TickerAlerts(app.tick_streams.stats, center.offer)`, and run `run()` as a task."""

    def __init__(
        self,
        stats: Callable[[], Sequence[AccountTickStats]],
        emit: Emit,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Sleep = asyncio.sleep,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.stats = stats
        self.emit = Outlet(emit)
        self.clock = clock
        self.sleep = sleep
        self.interval = interval

    async def run(self) -> None:
        await every(self.interval, self.sleep, self.look, "tickers")

    def look(self) -> None:
        now = self.clock()
        for hub in self.stats():
            state = STATES.get(hub.state)
            if state is not None:
                self.emit(TickerEvent(account_id=hub.account_id, state=state, last_tick_at=hub.last_tick_at, at=now))

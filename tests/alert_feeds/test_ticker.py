"""Ticker events, polled from the hubs' stats: connected (stale too: the engine judges that from the
last tick's time) or down (reconnecting, or given up); a hub still making its first connection is
not told yet."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from kite_gateway.alert_feeds import TickerAlerts
from kite_gateway.core.alerts import TickerEvent, TickerState
from kite_gateway.streaming import AccountTickStats, UpstreamState
from tests.alert_feeds.fakes import NOW, Recorder, clock

TICKED = NOW - timedelta(seconds=3)


def hub(account_id: str, state: UpstreamState, ticked: bool = True) -> AccountTickStats:
    return AccountTickStats(account_id, state, [], 0, 0, 0, [], TICKED if ticked else None)


async def test_each_hub_is_told_as_connected_or_down_with_its_last_tick() -> None:
    hubs = [
        hub("ZS0001", UpstreamState.CONNECTED),
        hub("ZS0002", UpstreamState.STALE),
        hub("ZS0003", UpstreamState.RECONNECTING),
        hub("ZS0004", UpstreamState.DOWN, ticked=False),
        hub("ZS0005", UpstreamState.CONNECTING, ticked=False),
    ]
    recorder = Recorder()
    TickerAlerts(lambda: hubs, recorder, clock).look()
    assert recorder.events == [
        TickerEvent("ZS0001", TickerState.CONNECTED, TICKED, NOW),
        TickerEvent("ZS0002", TickerState.CONNECTED, TICKED, NOW),
        TickerEvent("ZS0003", TickerState.DOWN, TICKED, NOW),
        TickerEvent("ZS0004", TickerState.DOWN, None, NOW),
    ]


async def test_the_loop_looks_every_interval() -> None:
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        if len(asked) == 2:
            raise asyncio.CancelledError

    recorder = Recorder()
    alerts = TickerAlerts(lambda: [hub("ZS0001", UpstreamState.CONNECTED)], recorder, clock, sleep, interval=10.0)
    with pytest.raises(asyncio.CancelledError):
        await alerts.run()
    assert asked == [10.0, 10.0] and len(recorder.events) == 2

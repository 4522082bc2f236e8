"""A hub's stats carry when its last tick arrived, by the hub's clock (what the ticker alerts
compare with their own time): None before the first tick, and an empty frame is no tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kite_gateway.grpc.tick_encoding import ProtoTickEncoding
from kite_gateway.streaming import TickStreams
from kite_wire.ticker_packets import Tick

START = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)


async def test_the_last_tick_time_is_in_the_stats_by_the_hubs_clock() -> None:
    now = [START]
    streams = TickStreams("ws://127.0.0.1:1", ProtoTickEncoding(), clock=lambda: now[0])
    hub = await streams.get("ZS0001", "key", "token", {408065: "NSE:INFY"})
    try:
        assert [s.last_tick_at for s in streams.stats()] == [None]
        await hub._on_ticks([Tick(408065, 150025, "ltp")])
        now[0] = START + timedelta(seconds=40)
        await hub._on_ticks([])
        assert [s.last_tick_at for s in streams.stats()] == [START]
    finally:
        await streams.stop()

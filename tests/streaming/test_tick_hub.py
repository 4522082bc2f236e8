"""The tick hub as a unit, with no upstream connection and no protos: each tick is encoded once per
instrument and level by the encoding it is given and the bytes are shared; a subscriber is never
handed more than arrived; state changes reach every subscriber as notes; stats for metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kite_gateway_api.v1 import market_data_pb2

from kite_gateway.grpc.tick_encoding import ProtoTickEncoding, ticks_frame
from kite_gateway.streaming.tick_streams import AccountTicks
from kite_gateway.streaming.ticks import TickLevel, UpstreamState
from kite_wire.ticker_packets import Tick

INFY = 408065


class CountingEncoding:
    def __init__(self) -> None:
        self.ticks: list[tuple[int, int, str]] = []
        self.notes: list[tuple[UpstreamState, str]] = []

    def tick(self, raw: Tick, level: int, symbol: str, received_ns: int) -> bytes:
        self.ticks.append((raw.instrument_token, level, symbol))
        return f"{symbol}@{level}".encode()

    def upstream_status(self, state: UpstreamState, message: str, at_ns: int) -> bytes:
        self.notes.append((state, message))
        return f"state {state.name}".encode()


def quote_tick(token: int = INFY, price: int = 150025) -> Tick:
    return Tick(token, price, "quote", last_quantity=100, close=149000, open=149500, high=151000, low=148000)


@pytest.fixture
async def hub() -> AsyncIterator[tuple[AccountTicks, CountingEncoding]]:
    encoding = CountingEncoding()
    ticks = AccountTicks("ZS0001", "ws://127.0.0.1:1", "key", "token", {INFY: "NSE:INFY"}, encoding)
    yield ticks, encoding
    await ticks.stop()


async def test_a_tick_is_encoded_once_per_level_and_the_bytes_shared_by_its_subscribers(
    hub: tuple[AccountTicks, CountingEncoding],
) -> None:
    ticks, encoding = hub
    boxes = [ticks.fanout.open(f"p{i}") for i in range(4)]
    for i, mailbox in enumerate(boxes):
        ticks.fanout.hold(mailbox, INFY, TickLevel.LTP if i < 3 else TickLevel.QUOTE)
    await ticks._on_ticks([quote_tick()])
    assert sorted(encoding.ticks) == [(INFY, 0, "NSE:INFY"), (INFY, 1, "NSE:INFY")]
    assert boxes[0].pending[INFY] is boxes[1].pending[INFY] is boxes[2].pending[INFY]
    assert ticks.ticks_in == 1


async def test_a_full_subscriber_of_a_quote_tick_gets_the_quote_it_is(
    hub: tuple[AccountTicks, CountingEncoding],
) -> None:
    ticks, encoding = hub
    ticks.fanout.hold(ticks.fanout.open("p"), INFY, TickLevel.FULL)
    await ticks._on_ticks([quote_tick()])
    assert encoding.ticks == [(INFY, TickLevel.QUOTE, "NSE:INFY")]


async def test_an_upstream_state_change_is_a_note_to_every_subscriber_and_a_stale_feed_recovers_on_ticks(
    hub: tuple[AccountTicks, CountingEncoding],
) -> None:
    ticks, encoding = hub
    first, second = ticks.fanout.open("a"), ticks.fanout.open("b")
    ticks._on_state(0, UpstreamState.STALE, "quiet")
    assert ticks.state is UpstreamState.STALE
    assert list(first.notes) == list(second.notes) == [b"state STALE"]
    await ticks._on_ticks([quote_tick()])
    assert ticks.state is UpstreamState.CONNECTED  # type: ignore[comparison-overlap]  # changed by _on_ticks
    assert encoding.notes[-1] == (
        UpstreamState.CONNECTED,
        "ticks are flowing again",
    )


async def test_stats_count_ticks_in_and_out_and_each_subscriptions_queue(
    hub: tuple[AccountTicks, CountingEncoding],
) -> None:
    ticks, _ = hub
    reader, idle = ticks.fanout.open("a"), ticks.fanout.open("b")
    ticks.fanout.hold(reader, INFY, TickLevel.LTP)
    ticks.fanout.hold(idle, INFY, TickLevel.LTP)
    await ticks._on_ticks([quote_tick(), quote_tick(price=150030)])
    await reader.take(1)
    stats = ticks.stats()
    assert (stats.account_id, stats.ticks_in, stats.ticks_delivered, stats.ticks_conflated) == ("ZS0001", 2, 1, 2)
    assert stats.queue_depths == [0, 1] and stats.connections == []


def test_the_grpc_encoding_makes_tick_entries_a_frame_carries_unparsed() -> None:
    encoding = ProtoTickEncoding()
    entry = encoding.tick(quote_tick(), TickLevel.QUOTE, "NSE:INFY", 1_700_000_000_123_456_789)
    response = market_data_pb2.StreamTicksResponse.FromString(ticks_frame([entry, entry], 3))
    (tick, again) = response.ticks.ticks
    assert tick == again and response.ticks.conflated_ticks == 3
    assert (tick.symbol, tick.mode, tick.last_price.value) == ("NSE:INFY", market_data_pb2.TICK_MODE_QUOTE, "1500.25")
    assert tick.receive_time.ToNanoseconds() == 1_700_000_000_123_456_789
    assert tick.ohlc.close.value == "1490" and tick.change.value.startswith("10.")


def test_the_grpc_encoding_of_a_state_change_is_a_whole_stream_response() -> None:
    note = ProtoTickEncoding().upstream_status(UpstreamState.RECONNECTING, "connection 0: down", 5_000_000_000)
    status = market_data_pb2.StreamTicksResponse.FromString(note).upstream_status
    assert (status.state, status.message, status.time.seconds) == (3, "connection 0: down", 5)

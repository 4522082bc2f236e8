"""Stream subscribers of the fault tests, each as a caller would run one against a cluster: it
streams from one replica, and when that stream breaks (the replica died, restarted, or lost a
dependency) it resumes on the next replica of its list, round-robin, from what it had.

- OrderUpdateSubscriber: StreamOrderUpdates, resumed with its last sequence (after_sequence); it
  keeps every update and gap marker in the order they came, across its streams.
- TickSubscriber: StreamTicks, opened again with the same instruments; it keeps when each tick came.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field

import grpc
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, order_pb2, order_pb2_grpc

RESUME_AFTER = 0.1  # seconds between a broken stream and the next attempt (the caller's back-off)
# What a stream may end with while the cluster is under a fault: the replica went away, or stopped.
EXPECTED = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


@dataclass(frozen=True)
class Seen:
    """One update as a subscriber saw it."""

    sequence: int
    order_id: str
    status: str
    source: int
    at: float  # monotonic


@dataclass(frozen=True)
class GapSeen:
    reason: int
    action: int
    reconciled_updates: int
    at: float


@dataclass
class StreamSubscriber:
    """The round-robin resumption both kinds share; `stream(address)` is one stream."""

    name: str
    addresses: list[str]
    streams: list[str] = field(default_factory=list)  # the address of each stream it opened, in order
    unexpected: list[str] = field(default_factory=list)  # ends other than EXPECTED
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        index = 0
        while True:
            address = self.addresses[index % len(self.addresses)]
            try:
                async with grpc.aio.insecure_channel(address) as channel:
                    self.streams.append(address)
                    await self.stream(channel)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in EXPECTED:
                    self.unexpected.append(f"{address}: {exc.code().name} {exc.details()}")
            index += 1
            await asyncio.sleep(RESUME_AFTER)  # back-off before resuming on the next replica

    async def stream(self, channel: grpc.aio.Channel) -> None:
        raise NotImplementedError

    async def reconnect(self) -> None:
        """End the current stream (as a caller moving on would); it resumes on the next replica."""
        assert self._task is not None
        await self.stop()
        self.start()


@dataclass
class OrderUpdateSubscriber(StreamSubscriber):
    account_id: str = ""
    last: int = 0  # the resume point: the last sequence received (0: replay everything)
    updates: list[Seen] = field(default_factory=list)
    gaps: list[GapSeen] = field(default_factory=list)
    live: int = 0  # ReplayComplete messages received (one per stream that reached live)

    async def stream(self, channel: grpc.aio.Channel) -> None:
        request = order_pb2.StreamOrderUpdatesRequest(
            account_id=self.account_id, after_sequence=self.last, heartbeat_interval=Duration(seconds=1)
        )
        async for message in order_pb2_grpc.OrderServiceStub(channel).StreamOrderUpdates(request):
            kind = message.WhichOneof("event")
            now = time.monotonic()
            if kind == "update":
                update = message.update
                seen = Seen(update.sequence, update.order.order_id, update.order.status_raw, update.source, now)
                self.updates.append(seen)
                self.last = update.sequence
            elif kind == "gap":
                gap = message.gap
                self.gaps.append(GapSeen(gap.reason, gap.action, gap.reconciled_updates, now))
            elif kind == "replay_complete":
                self.live += 1

    def sequences(self) -> list[int]:
        return [u.sequence for u in self.updates]

    def completed(self) -> set[str]:
        return {u.order_id for u in self.updates if u.status == "COMPLETE"}


@dataclass
class TickSubscriber(StreamSubscriber):
    account_id: str = ""
    symbols: tuple[str, ...] = ()
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, symbol)
    states: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, UpstreamState) announced

    async def stream(self, channel: grpc.aio.Channel) -> None:
        request = market_data_pb2.StreamTicksRequest(
            account_id=self.account_id,
            instruments=[common_pb2.InstrumentRef(symbol=s) for s in self.symbols],
            mode=market_data_pb2.TICK_MODE_QUOTE,
            heartbeat_interval=Duration(seconds=1),
        )
        async for message in market_data_pb2_grpc.MarketDataServiceStub(channel).StreamTicks(request):
            kind, now = message.WhichOneof("event"), time.monotonic()
            if kind == "ticks":
                self.ticks.extend((now, tick.symbol) for tick in message.ticks.ticks)
            elif kind == "upstream_status":
                self.states.append((now, int(message.upstream_status.state)))

    def states_between(self, start: float, end: float) -> list[int]:
        return [state for at, state in self.states if start <= at <= end]

    def ticks_since(self, moment: float) -> int:
        return sum(1 for at, _ in self.ticks if at > moment)

    def longest_silence(self, start: float, end: float) -> float:
        """The longest time between start and end without a tick."""
        times = [start, *(at for at, _ in self.ticks if start < at < end), end]
        return max(b - a for a, b in itertools.pairwise(times))

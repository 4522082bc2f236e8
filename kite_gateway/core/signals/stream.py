"""StreamSignals' events: every stored signal state change after a sequence, then the live ones.

The store keeps one contiguous sequence over every signal (kite_gateway/storage/signals.py), so a
stream replays exactly what it missed and a caller can tell a gap from nothing new. The use case
wakes local streams at once (Signals.on_event); changes another replica wrote to the shared database
are found by a poll every `poll_every` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import SignalEvent, SignalStore

POLL_EVERY = 1.0
PAGE = 500


@dataclass(frozen=True)
class SignalsReplayed:
    """Everything stored after the resume point was sent; what follows is live."""

    last_sequence: int


@dataclass(frozen=True)
class SignalHeartbeat:
    server_time: datetime


StreamEvent = SignalEvent | SignalsReplayed | SignalHeartbeat


class SignalFeed:
    def __init__(self, store: SignalStore, clock: Callable[[], datetime], poll_every: float = POLL_EVERY) -> None:
        self.store = store
        self.clock = clock
        self.poll_every = poll_every
        self._wakes: set[asyncio.Event] = set()

    def changed(self) -> None:
        """A signal changed state in this process (Signals.on_event)."""
        for wake in self._wakes:
            wake.set()

    async def events(
        self, after: int | None, heartbeat_every: float, wanted: Callable[[str], bool] | Collection[str] | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """The changes after sequence `after` (None: only those from now on) of the strategies
        `wanted` (a predicate on the strategy id, or ids; None: all), then live ones, with a heartbeat
        every `heartbeat_every` seconds of quiet. OUT_OF_RANGE when `after` is beyond the newest."""
        keep = _keeper(wanted)
        newest = await self.store.newest_sequence()
        if after is not None and after > newest:
            raise GatewayError(Status.OUT_OF_RANGE, Reason.UNSPECIFIED,
                               f"after_sequence {after} is beyond the newest signal event ({newest}): resume from "
                               "a sequence this gateway sent, or 0 for everything kept",
                               {"after_sequence": str(after), "newest": str(newest)})  # fmt: skip
        last = newest if after is None else after
        wake = asyncio.Event()
        self._wakes.add(wake)
        loop = asyncio.get_running_loop()
        try:
            announced = False
            quiet_since = loop.time()
            while True:
                wake.clear()
                rows = await self.store.events_after(last, PAGE)
                for row in rows:
                    last = row.sequence
                    if keep(row.strategy_id):
                        yield row
                        quiet_since = loop.time()
                if len(rows) == PAGE:
                    continue
                if not announced:
                    announced = True
                    yield SignalsReplayed(last)
                    quiet_since = loop.time()
                remaining = heartbeat_every - (loop.time() - quiet_since)
                if remaining <= 0:
                    yield SignalHeartbeat(self.clock())
                    quiet_since = loop.time()
                    remaining = heartbeat_every
                try:
                    async with asyncio.timeout(min(remaining, self.poll_every)):
                        await wake.wait()
                except TimeoutError:
                    pass
        finally:
            self._wakes.discard(wake)


def _keeper(wanted: Callable[[str], bool] | Collection[str] | None) -> Callable[[str], bool]:
    if wanted is None:
        return lambda _: True
    if callable(wanted):
        return wanted
    ids = frozenset(wanted)
    return lambda strategy_id: strategy_id in ids

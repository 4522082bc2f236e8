"""The tick hub's vocabulary, free of any wire format for subscribers: tick levels (Kite's modes,
ranked), upstream and subscription states, and the encoding the hub is given to turn a decoded
tick into the bytes it shares among every subscriber of that instrument and level."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from kite_wire import MODES, Tick


class TickLevel(IntEnum):
    """Kite's tick modes, poorest first (a subscriber at a level gets that much of each tick)."""

    LTP = 0
    QUOTE = 1
    FULL = 2


KITE_MODE = dict(zip(TickLevel, MODES, strict=True))  # level -> Kite's mode name ("ltp", "quote", "full")
LEVEL_OF_MODE = {mode: level for level, mode in KITE_MODE.items()}


class UpstreamState(IntEnum):
    """The upstream feed's state (the same numbers as kite_gateway.v1.UpstreamState)."""

    UNSPECIFIED = 0
    CONNECTING = 1
    CONNECTED = 2
    RECONNECTING = 3
    STALE = 4
    DOWN = 5


class SubscriptionState(IntEnum):
    """What became of one instrument of a subscription change (numbered as kite_gateway.v1.SubscriptionState)."""

    ACCEPTED = 1
    UNKNOWN_INSTRUMENT = 2
    OVER_LIMIT = 3
    REMOVED = 4
    NOT_SUBSCRIBED = 5


@dataclass(frozen=True, slots=True)
class SubscriptionOutcome:
    state: SubscriptionState
    instrument_token: int = 0
    symbol: str = ""
    level: TickLevel | None = None  # when ACCEPTED
    message: str = ""


class TickEncoding(Protocol):
    """How subscribers' bytes are made (the gRPC layer's kite_gateway.grpc.tick_encoding)."""

    def tick(self, raw: Tick, level: int, symbol: str, received_ns: int) -> bytes:
        """One tick at `level` (a TickLevel, never richer than what arrived), received at `received_ns`
        (Unix time in nanoseconds)."""
        ...

    def upstream_status(self, state: UpstreamState, message: str, at_ns: int) -> bytes:
        """A note to every subscriber that the upstream's state changed."""
        ...

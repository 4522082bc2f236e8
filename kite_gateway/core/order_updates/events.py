"""What an order-update stream carries, as plain values: an order's update (with its per-account
sequence, and a duplicate-order report when the gateway found one), a gap marker, the end of the
replay, and heartbeats. The enums' numbers are the ones stored with each update."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any


class UpdateSource(IntEnum):
    """Where the gateway learned of an update (stored with it as this number)."""

    UNSPECIFIED = 0
    WEBSOCKET = 1  # Kite's ticker `order` message
    POSTBACK = 2  # Kite's HTTP postback, confirmed against the order book
    RECONCILIATION = 3  # found by reading the order book after a gap
    GATEWAY = 4  # the gateway itself: a duplicate-order report

    @classmethod
    def of(cls, number: int) -> UpdateSource:
        """The source a stored number names (UNSPECIFIED for a number this version does not know)."""
        try:
            return cls(number)
        except ValueError:
            return cls.UNSPECIFIED


class GapReason(IntEnum):
    UNSPECIFIED = 0
    UPSTREAM_DISCONNECTED = 1  # the account's ticker connection was down
    GATEWAY_RESTARTED = 2  # the gateway was not watching the account (started, or restarted)
    RETENTION_EXCEEDED = 3  # the resume point is older than the oldest update kept (the rest were pruned)


class GapAction(IntEnum):
    UNSPECIFIED = 0
    RECONCILED = 1  # the order book was read and what changed was stored (updates follow)
    NONE = 2  # nothing could be recovered: the caller should read the order book itself


@dataclass(frozen=True)
class DuplicateReport:
    """The gateway found a second order for one client_order_id, and did `action` about it (a
    DuplicateAction number, as core/orders/duplicates.py decides it)."""

    client_order_id: str
    kept_order_id: str
    duplicate_order_id: str
    action: int
    message: str

    @classmethod
    def from_marker(cls, marker: Mapping[str, Any]) -> DuplicateReport:
        """The report as stored in an update (the marker duplicates.py hands to report_duplicate)."""
        return cls(
            client_order_id=str(marker.get("client_order_id") or ""),
            kept_order_id=str(marker.get("kept_order_id") or ""),
            duplicate_order_id=str(marker.get("duplicate_order_id") or ""),
            action=int(marker.get("action") or 0),
            message=str(marker.get("message") or ""),
        )


@dataclass(frozen=True)
class OrderUpdate:
    """An order changed: `order` is Kite's order as it is after the change (Kite's field names)."""

    account_id: str
    sequence: int  # 1 for the account's first stored update, then exactly one more each time
    source: UpdateSource
    received_at: datetime
    order: dict[str, Any]
    client_order_id: str  # the caller's idempotency key, for an order the gateway placed
    duplicate: DuplicateReport | None = None


@dataclass(frozen=True)
class Gap:
    """Updates may have been missed between `start` and `end`, and what was done about it. For
    RETENTION_EXCEEDED, the updates between the resume point and `oldest_available_sequence` were
    pruned (their times are gone with them: `start` and `end` are the oldest kept update's)."""

    reason: GapReason
    action: GapAction
    reconciled_updates: int
    message: str
    start: datetime
    end: datetime
    oldest_available_sequence: int = 0  # RETENTION_EXCEEDED: the oldest sequence kept (the replay goes on from it)


@dataclass(frozen=True)
class ReplayComplete:
    """The stored updates are replayed: what follows is live. `last_sequence` is the resume point."""

    last_sequence: int


@dataclass(frozen=True)
class Heartbeat:
    """The stream is alive. `upstream_state`: the account's ticker connection state as the tick hub
    reports it (an UpstreamState number), None when the account has no ticker connection."""

    server_time: datetime
    upstream_state: int | None


Event = OrderUpdate | Gap | ReplayComplete | Heartbeat

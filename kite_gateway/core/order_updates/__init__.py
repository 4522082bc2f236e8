"""Order updates as a use case: ingest (de-duplicated into the durable log), reconciliation after a
gap, and each subscriber's replay-then-live stream as an async iterator of plain events."""

from kite_gateway.core.order_updates.events import (
    DuplicateReport,
    Event,
    Gap,
    GapAction,
    GapReason,
    Heartbeat,
    OrderUpdate,
    ReplayComplete,
    UpdateSource,
)
from kite_gateway.core.order_updates.feed import Listener, OrderBook, OrderUpdateFeed, kite_text_times
from kite_gateway.core.order_updates.replay import OrderUpdateReplay

__all__ = [
    "DuplicateReport",
    "Event",
    "Gap",
    "GapAction",
    "GapReason",
    "Heartbeat",
    "Listener",
    "OrderBook",
    "OrderUpdate",
    "OrderUpdateFeed",
    "OrderUpdateReplay",
    "ReplayComplete",
    "UpdateSource",
    "kite_text_times",
]

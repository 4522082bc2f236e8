"""Duplicate-order alerts' events: each duplicate DuplicateOrders records (a second order for one
client_order_id, and what the gateway did about it) becomes a DuplicateEvent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kite_gateway.alert_feeds.outlet import Emit, Outlet
from kite_gateway.core.alerts import DuplicateEvent
from kite_gateway.core.orders import DuplicateFound


class DuplicateAlerts:
    """Wire: `duplicates.listeners.append(DuplicateAlerts(center.offer).found)`."""

    def __init__(self, emit: Emit, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.emit = Outlet(emit)
        self.clock = clock

    def found(self, account_id: str, duplicate: DuplicateFound) -> None:
        self.emit(
            DuplicateEvent(
                account_id=account_id,
                client_order_id=duplicate.client_order_id,
                kept_order_id=duplicate.kept_order_id,
                duplicate_order_id=duplicate.duplicate_order_id,
                action=duplicate.action.name,
                message=duplicate.message,
                at=self.clock(),
            )
        )

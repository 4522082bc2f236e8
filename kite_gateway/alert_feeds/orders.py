"""Order alerts' events: each order update the feed stores (OrderUpdateFeed.on_stored: Kite's order
as the ticker, a postback or a reconciliation reported it, deduplicated) becomes an OrderEvent.
The engine decides which statuses matter (rejected, filled, partly filled)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kite_gateway.alert_feeds.outlet import Emit, Outlet
from kite_gateway.core.alerts import OrderEvent


def _whole(value: object) -> int:
    try:
        return int(str(value or 0))
    except (TypeError, ValueError):
        return 0


class OrderAlerts:
    """Wire: `order_updates.on_stored.append(OrderAlerts(center.offer).stored)`."""

    def __init__(self, emit: Emit, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.emit = Outlet(emit)
        self.clock = clock

    async def stored(self, account_id: str, order: Mapping[str, Any]) -> None:
        """An OnStored hook (run in the feed's background): never raises."""
        self.emit(self.event(account_id, order))

    def event(self, account_id: str, order: Mapping[str, Any]) -> OrderEvent:
        return OrderEvent(
            account_id=account_id,
            order_id=str(order.get("order_id") or ""),
            status=str(order.get("status") or ""),
            filled=_whole(order.get("filled_quantity")),
            quantity=_whole(order.get("quantity")),
            status_message=str(order.get("status_message") or ""),
            at=self.clock(),
        )

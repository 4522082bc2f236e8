"""What kite_gateway.core.order_updates makes public is curated: the events, the feed and the
replay; its modules are private."""

from __future__ import annotations

import kite_gateway.core.order_updates as order_updates

PUBLIC = {
    "DuplicateReport", "Event", "Gap", "GapAction", "GapReason", "Heartbeat", "Listener", "OrderBook",
    "OrderUpdate", "OrderUpdateFeed", "OrderUpdateReplay", "ReplayComplete", "UpdateSource", "kite_text_times",
}  # fmt: skip


def test_the_package_exports_exactly_its_curated_names() -> None:
    assert set(order_updates.__all__) == PUBLIC
    assert all(getattr(order_updates, name) is not None for name in PUBLIC)

"""The guard every feed emits through: an alert center that raises is logged, never passed on,
and a feed called from a worker thread hands its event to the event loop."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

from structlog.testing import capture_logs

from kite_gateway.alert_feeds import Outlet
from kite_gateway.core.alerts import MarginEvent, RiskRefusalEvent
from tests.alert_feeds.fakes import NOW, Broken, Recorder

EVENT = RiskRefusalEvent("ZS0001", "limit", NOW)


async def test_an_emit_that_raises_is_logged_and_not_passed_on() -> None:
    broken = Broken()
    outlet = Outlet(broken)
    with capture_logs() as logs:
        outlet(EVENT)
        outlet(MarginEvent("ZS0001", Decimal("0.5"), NOW))
    assert broken.calls == 2
    assert [entry["event"] for entry in logs] == ["alerts.emit_failed", "alerts.emit_failed"]


async def test_an_event_from_a_worker_thread_is_emitted_on_the_event_loop() -> None:
    seen: list[tuple[object, bool]] = []
    loop_thread = threading.get_ident()
    outlet = Outlet(lambda event: seen.append((event, threading.get_ident() == loop_thread)))
    await asyncio.to_thread(outlet, EVENT)
    await asyncio.sleep(0)  # the loop's turn, if it has not had it yet
    assert seen == [(EVENT, True)]  # emitted once, on the loop's thread


def test_an_outlet_built_outside_a_loop_emits_where_it_is_called() -> None:
    recorder = Recorder()
    Outlet(recorder)(EVENT)
    assert recorder.events == [EVENT]

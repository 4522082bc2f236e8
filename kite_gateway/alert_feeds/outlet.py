"""Where every alert feed hands its events: the alert center's `offer` (synchronous, never blocking),
behind a guard so that a feed can be called from anywhere a gateway part reports something. An
`emit` that raises is logged and forgotten: the order, the refusal or the tick that caused the event
goes on as if no alert were wired. A call off the event loop (a kill switch's last check runs in
Kite's worker thread) is handed over to the loop rather than run on that thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from kite_gateway.core.alerts import AlertEvent

log = structlog.get_logger(__name__)

Emit = Callable[[AlertEvent], None]


class Outlet:
    def __init__(self, emit: Emit, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """`loop`: the gateway's event loop (default: the one running, when built in it)."""
        self.emit = emit
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self.loop = loop

    def __call__(self, event: AlertEvent) -> None:
        loop = self.loop
        if loop is not None and not _on(loop):
            try:
                loop.call_soon_threadsafe(self._deliver, event)
            except RuntimeError:  # the loop is closed: the gateway is stopping
                log.warning("alerts.event_dropped", kind=type(event).__name__)
            return
        self._deliver(event)

    def _deliver(self, event: AlertEvent) -> None:
        try:
            self.emit(event)
        except Exception:  # the alerts must never break what reported the event
            log.exception("alerts.emit_failed", kind=type(event).__name__)


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False

"""The loop of the feeds that look rather than listen (sessions, tickers): one look now, then one
every `interval` seconds, until cancelled. A look that fails is logged and the next one comes on
time; `sleep` is injected so tests step the loop without waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]
DEFAULT_INTERVAL = 30.0  # seconds between looks


async def every(interval: float, sleep: Sleep, look: Callable[[], Awaitable[None] | None], name: str) -> None:
    while True:
        try:
            done = look()
            if done is not None:
                await done
        except asyncio.CancelledError:
            raise
        except Exception:  # the next look may succeed: the loop outlives one failure
            log.exception("alerts.look_failed", feed=name)
        await sleep(interval)

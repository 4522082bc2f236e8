"""The event loop the gateway runs on: uvloop's (libuv) where it is installed, asyncio's otherwise.

uvloop cuts the gateway's CPU per unary call by about a tenth here (bench/RESULTS.md, issue 17):
gRPC's completion-queue poller wakes the loop from its own thread on every call, and uvloop's
cross-thread wake-ups and socket callbacks are cheaper. The test suite runs on the same loop
(tests/conftest.py), so what is tested is what runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

try:
    import uvloop
except ImportError:  # pragma: no cover - not on this platform
    uvloop = None  # type: ignore[assignment]


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on the gateway's loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)

"""The event loop the gateway runs on: uvloop's (libuv) where it is installed, asyncio's otherwise;
and the heap it settles once it has started (`settle_heap`).

uvloop cuts the gateway's CPU per unary call by about a tenth here (bench/RESULTS.md, issue 17):
gRPC's completion-queue poller wakes the loop from its own thread on every call, and uvloop's
cross-thread wake-ups and socket callbacks are cheaper. The test suite runs on the same loop
(tests/conftest.py), so what is tested is what runs.
"""

from __future__ import annotations

import asyncio
import gc
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


def settle_heap() -> None:
    """Move every object alive now out of the cyclic collector's reach (gc.freeze): what the start
    made (settings, services, the instrument master's listings) lives as long as the process, and
    each full collection would walk all of it, a pause of tens of milliseconds in the tick path
    with a master loaded (bench/RESULTS.md, issue 17). `kite-gateway serve` calls it once serving and
    after each load of the instrument master (kite_gateway/app.py keep_heap_settled);
    objects frozen are still freed when nothing refers to them (cycles among them are not)."""
    gc.freeze()

"""Run a simulator on a background thread's event loop, for blocking callers (the official
`kiteconnect` client, benchmarks): every touch of simulator state goes through `call`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kite_simulator.app import Simulator, SimulatorConfig

T = TypeVar("T")


class ThreadedSimulator:
    """`with ThreadedSimulator(config) as sim:` starts it; leaving the block stops it."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kite-simulator", daemon=True)
        self.sim: Simulator

    def __enter__(self) -> ThreadedSimulator:
        self._thread.start()
        self.sim = self.run(self._start())
        return self

    async def _start(self) -> Simulator:
        sim = Simulator(self.config)
        await sim.start()
        return sim

    def __exit__(self, *_: object) -> None:
        self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def run(self, coroutine: Any) -> Any:
        """Run a coroutine on the simulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run a plain function on the simulator's loop (where its state lives) and return its result."""

        async def invoke() -> T:
            return function(*args)

        result: T = self.run(invoke())
        return result

    def advance(self, seconds: float) -> None:
        self.call(self.sim.advance, seconds)

"""A simulator on a thread and event loop of its own, so that neither it nor its caller can starve
the other: the gateway in paper mode, the end-to-end tests, blocking callers (the official
`kiteconnect` client, benchmarks).

The simulator's state belongs to its loop. From any other thread:
- what is fixed once it has started is safe to read: `config`, `api_url`, `ws_url`, `login_url()`,
  `app`, `universe` (immutable) and `clock.now()` (one attribute read);
- a single attribute assignment, such as `sim.app.postback_url = url`, is atomic and needs nothing;
- `faults` is thread-safe (a lock, see kite_simulator.faults);
- everything else (the engine, sessions, ticker, market) goes through `on_loop(lambda s: ...)`,
  `call(function, *args)` or `run(coroutine)`, which run it on the simulator's loop and wait for
  the result; `advance`,
  `advance_clock`, `quote`, `orders`, `session_for` and `users` are the common cases, ready-made.
  Those block the calling thread; all but `advance` take microseconds. A caller on an event loop
  (the e2e tests, beside the gateway) moves the market with `await advance_async(seconds)`, which
  leaves its loop serving meanwhile.

`await start()` / `await stop()` leave the caller's loop free while the simulator starts or stops;
`with ThreadedSimulator(config) as sim:` does the same for blocking callers. A ThreadedSimulator
runs once: to restart, make a new one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from kite_simulator.app import Simulator, SimulatorConfig
from kite_simulator.clock import Clock, ManualClock
from kite_simulator.faults import FaultInjector
from kite_simulator.market import LiveQuote
from kite_simulator.sessions import App
from kite_simulator.universe import Universe

T = TypeVar("T")

CALL_TIMEOUT = 60.0  # seconds a marshalled call may take before the caller gives up


class ThreadedSimulator:
    """A `Simulator` running on its own thread's event loop (see the module's notes on thread safety)."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kite-simulator", daemon=True)
        self._simulator: Simulator | None = None

    # Lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> ThreadedSimulator:
        self._thread.start()
        try:
            self._simulator = self._submit(self._start()).result(timeout=CALL_TIMEOUT)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self._submit(self._stop()).result(timeout=CALL_TIMEOUT)
        self._close()

    async def start(self) -> str:
        """Start the thread and the simulator on it; returns the base URL. If the simulator cannot
        start (its port is taken, its saved state unreadable), the thread ends and the error is raised."""
        self._thread.start()
        try:
            self._simulator = await asyncio.wrap_future(self._submit(self._start()))
        except BaseException:
            self._close()
            raise
        return self.api_url

    async def stop(self) -> None:
        """Stop the simulator and its thread."""
        await asyncio.wrap_future(self._submit(self._stop()))
        self._close()

    async def _start(self) -> Simulator:
        simulator = Simulator(self.config)  # built on its own loop: every task and future it makes lives there
        await simulator.start()
        return simulator

    async def _stop(self) -> None:
        if self._simulator is not None:
            await self._simulator.stop()

    def _close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    # Crossing to the simulator's loop ---------------------------------------------------------

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the simulator's loop and wait for its result."""
        return self._submit(coroutine).result(timeout=CALL_TIMEOUT)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run a plain function on the simulator's loop (where its state lives) and return its result."""
        if threading.current_thread() is self._thread:
            return function(*args)

        async def invoke() -> T:
            return function(*args)

        return self.run(invoke())

    def on_loop(self, function: Callable[[Simulator], T]) -> T:
        """`function(simulator)` run on the simulator's loop: `sim.on_loop(lambda s: s.ticker.drop("ZS0001"))`."""
        return self.call(function, self.sim)

    # Safe from any thread ---------------------------------------------------------------------

    @property
    def sim(self) -> Simulator:
        """The simulator itself: touch its state only inside `call` or `run`."""
        if self._simulator is None:
            raise RuntimeError("the simulator has not started")
        return self._simulator

    @property
    def api_url(self) -> str:
        return self.sim.api_url

    @property
    def ws_url(self) -> str:
        return self.sim.ws_url

    def login_url(self, api_key: str | None = None) -> str:
        return self.sim.login_url(api_key)

    @property
    def app(self) -> App:
        return self.sim.app

    @property
    def universe(self) -> Universe:
        return self.sim.universe

    @property
    def clock(self) -> Clock:
        """The simulator's clock: `now()` from anywhere; move it with `advance` or `advance_clock`."""
        return self.sim.clock

    @property
    def faults(self) -> FaultInjector:
        return self.sim.faults

    # Common calls, run on the simulator's loop ------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the manual clock forward, matching at every market step on the way."""
        self.call(self.sim.advance, seconds)

    async def advance_async(self, seconds: float) -> None:
        """`advance` for a caller on an event loop: its loop keeps serving while the simulator matches
        (a blocking `advance` would hold the caller's loop, and the gateway on it, for the whole move)."""

        async def advance() -> None:
            self.sim.advance(seconds)

        await asyncio.wrap_future(self._submit(advance()))

    def advance_clock(self, seconds: float) -> None:
        """Move the manual clock forward without a matching pass."""
        clock = self.sim.clock
        if not isinstance(clock, ManualClock):
            raise RuntimeError("advance_clock() needs a simulator started with a manual clock (SimulatorConfig.start)")
        self.call(clock.advance, seconds)

    def quote(self, symbol: str) -> LiveQuote:
        """The market's quote now for `EXCHANGE:TRADINGSYMBOL`."""
        return self.call(lambda: self.sim.engine.quote(self.sim.universe.by_symbol[symbol]))

    def orders(self, user_id: str) -> list[dict[str, Any]]:
        """The user's order book as `GET /orders` shows it."""
        return self.call(self.sim.engine.orders_json, user_id)

    def session_for(self, user_id: str) -> tuple[str, str]:
        """Log a demo user in through the real flow; returns (api_key, access_token)."""
        return self.call(self.sim.session_for, user_id)

    def users(self) -> list[str]:
        """The user ids the simulator knows, sorted."""
        return self.call(lambda: sorted(self.sim.sessions.users))

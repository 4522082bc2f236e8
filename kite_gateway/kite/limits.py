"""Client-side rate limits, so a burst of callers queues instead of drawing 429s from Kite.

Kite counts per api_key and endpoint class: quotes 1/s, historical 3/s, order placement and
everything else 10/s. KITE_RATE_LIMIT_PER_SECOND is the "everything else" rate and scales the whole
table (the default 10 is Kite's table; an app with other limits sets its own). Each class is a leaky
bucket (aiolimiter) of KITE_BURST_LIMIT capacity at most, drained a little under the rate so that
no one-second window ever holds more than Kite allows.

On top of those, each ACCOUNT's order writes (place, modify, cancel) are spaced evenly: Kite (by
SEBI's 2026 rules) refuses with 429 an account's 11th order in one calendar second of its server
clock, whichever app sends it. `OrderPacing` lets one write of an account leave every
(1 + skew) / per_second seconds (110 ms by default). Why that is enough, with any offset between
our clock and Kite's: Kite's calendar second [k, k+1) holds the orders that *arrive* in it; an order
sent at our t arrives at t + offset + d, where offset is the (constant) difference of the clocks and
d the delay to Kite's counter (executor, network, Kite's front). So the orders in one of Kite's
seconds were sent within an interval of our clock of length 1 + (d_max - d_min): the constant
offset cancels out, only the spread of the delays (`skew`, KITE_GATEWAY_ORDER_CLOCK_SKEW) counts.
Sends spaced (1 + skew) / n apart put at most n in any interval shorter than 1 + skew. Spacing
them, rather than letting ten leave at once, also keeps a burst from queueing inside Kite, which
would itself spread the delays.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

from kite_wire import RATES_PER_SECOND, RateClass

EndpointClass = RateClass  # Kite's endpoint classes (kite_wire.limits), by the gateway's name for them
KITE_RATES = RATES_PER_SECOND
SAFETY = 0.9  # stay this far under Kite's rate


def order_spacing(per_second: int, skew: float) -> float:
    """Seconds between two order writes of one account: `per_second` of them in any 1 + `skew` s."""
    return (1.0 + skew) / per_second


@dataclass
class OrderPacing:
    """One account's order writes, each at least `spacing` seconds after the one before (in order
    of arrival: the lock is first come first served)."""

    spacing: float
    clock: Callable[[], float] = field(default=lambda: asyncio.get_running_loop().time())
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    last: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def delay(self, now: float, weight: int = 1) -> float:
        """Seconds until a write counted as `weight` orders may leave (0: now)."""
        return 0.0 if self.last is None else max(0.0, self.last + weight * self.spacing - now)

    @contextlib.asynccontextmanager
    async def turn(self, weight: int = 1) -> AsyncIterator[None]:
        """The account's turn to send one order write: entered `spacing` after the last one left;
        the body runs up to the moment the call leaves (held, so no other write of the account
        slips in between) and counts as sent when it ends without raising (a refusal sent nothing).
        A write Kite counts as `weight` orders (an autosliced order's children) leaves `weight`
        spacings after the last and holds the next back as long: then no window shorter than
        `per_second` spacings holds more than `per_second` orders, whatever the weights."""
        async with self.lock:
            wait = self.delay(self.clock(), weight)
            if wait > 0:
                await self.sleep(wait)
            yield
            self.last = self.clock() + (weight - 1) * self.spacing


class RateLimits:
    """One limiter per (api_key, endpoint class), shared by every account of an app, and one order
    pacing per account (`orders_per_second` order writes in any 1 + `clock_skew` seconds)."""

    def __init__(
        self, rate_per_second: float, burst: int, orders_per_second: int = 10, clock_skew: float = 0.1
    ) -> None:
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.spacing = order_spacing(orders_per_second, clock_skew)
        self._limiters: dict[tuple[str, EndpointClass], AsyncLimiter] = {}
        self._pacing: dict[str, OrderPacing] = {}

    def order_pacing(self, account_id: str) -> OrderPacing:
        if account_id not in self._pacing:
            self._pacing[account_id] = OrderPacing(self.spacing)
        return self._pacing[account_id]

    def limiter(self, api_key: str, endpoint: EndpointClass) -> AsyncLimiter:
        key = (api_key, endpoint)
        if key not in self._limiters:
            allowed = KITE_RATES[endpoint] * self.rate_per_second / KITE_RATES[EndpointClass.OTHER]
            rate = allowed * SAFETY
            # A bucket of `capacity` refilled at `rate`: at most capacity + rate calls in any second,
            # so the capacity is what is allowed beyond the steady rate (at least one call).
            capacity = max(1, min(self.burst, int(allowed - rate)))
            self._limiters[key] = AsyncLimiter(capacity, capacity / rate)
        return self._limiters[key]

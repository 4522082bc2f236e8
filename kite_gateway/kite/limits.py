"""Client-side rate limits, so a burst of callers queues instead of drawing 429s from Kite.

Kite counts per api_key and endpoint class: quotes 1/s, historical 3/s, order placement and
everything else 10/s. KITE_RATE_LIMIT_PER_SECOND is the "everything else" rate and scales the whole
table (the default 10 is Kite's table; an app with other limits sets its own). Each class is a leaky
bucket (aiolimiter) of KITE_BURST_LIMIT capacity at most, drained a little under the rate so that
no one-second window ever holds more than Kite allows.
"""

from __future__ import annotations

from aiolimiter import AsyncLimiter

from kite_wire import RATES_PER_SECOND, RateClass

EndpointClass = RateClass  # Kite's endpoint classes (kite_wire.limits), by the gateway's name for them
KITE_RATES = RATES_PER_SECOND
SAFETY = 0.9  # stay this far under Kite's rate


class RateLimits:
    """One limiter per (api_key, endpoint class), shared by every account of an app."""

    def __init__(self, rate_per_second: float, burst: int) -> None:
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._limiters: dict[tuple[str, EndpointClass], AsyncLimiter] = {}

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

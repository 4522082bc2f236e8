"""Kite's rate limits, answered with HTTP 429 (`NetworkException`, "Too many requests").

Two layers, as Kite has them:
- requests per second per api_key by endpoint class (the docs' table: quote 1/s, historical 3/s,
  order placement 10/s, all other endpoints 10/s; `/gtt` is "all other"), a sliding second of
  real time;
- order-count caps per user (Kite's RMS; since SEBI's 2026 rules "a strict 10 orders per second"
  per client account, whichever app sends them): 10 orders a calendar second, 400 a minute, 5,000
  a day, across every variety and segment, on the simulator's clock. Every placement that reaches
  the RMS counts, including one it rejects (HTTP 400 or a REJECTED order); one refused with 429
  does not. Modifications and cancellations count in the calendar second with placements (the
  strictest reading of the rule: Kite does not say, and the static-IP rule treats all three as
  order requests) but not in the minute or the day (Kite's notes: they do not count towards the
  day cap). GTTs are not orders here, and neither are the orders a GTT places when it fires.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from kite_simulator.errors import KiteError
from kite_wire import (
    IST,
    ORDERS_PER_DAY,
    ORDERS_PER_MINUTE,
    ORDERS_PER_SECOND,
    RATES_PER_SECOND,
    TOO_MANY_REQUESTS,
    KiteErrorType,
    RateClass,
    rate_class,
)

# Requests per second Kite allows per api_key, by endpoint class; which class a request counts in.
LIMITS = RATES_PER_SECOND
endpoint_class = rate_class


class RateLimiter:
    """A sliding one-second window per (api_key, class); `scale` multiplies every limit."""

    def __init__(self, scale: float = 1.0, now: Callable[[], float] = time.monotonic) -> None:
        self.scale = scale
        self._now = now
        self._windows: dict[tuple[str, RateClass], deque[float]] = {}

    def allow(self, api_key: str, method: str, path: str) -> bool:
        kind = endpoint_class(method, path)
        limit = max(1, int(LIMITS[kind] * self.scale))
        window = self._windows.setdefault((api_key, kind), deque())
        now = self._now()
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True


@dataclass(frozen=True)
class OrderLimits:
    """Kite's per-user order caps (0 turns one off)."""

    per_second: int = ORDERS_PER_SECOND
    per_minute: int = ORDERS_PER_MINUTE
    per_day: int = ORDERS_PER_DAY


def too_many_orders(detail: str) -> KiteError:
    return KiteError(KiteErrorType.NETWORK, f"Too many requests: {detail}", TOO_MANY_REQUESTS)


@dataclass
class UserOrderCount:
    """The orders one user placed: in the current calendar second, the last minute, today (IST)."""

    second: int = 0  # the calendar second (Unix seconds) `in_second` counts
    in_second: int = 0
    minute: deque[datetime] = field(default_factory=deque)
    day: date | None = None
    in_day: int = 0


class OrderCaps:
    """Counts each user's placements and refuses those beyond a cap with Kite's 429."""

    def __init__(self, limits: OrderLimits) -> None:
        self.limits = limits
        self.users: dict[str, UserOrderCount] = {}

    def count(self, user_id: str, now: datetime) -> None:
        """Count one placement at `now`, or raise 429 (without counting it) if a cap is reached."""
        limits, used = self.limits, self.users.setdefault(user_id, UserOrderCount())
        second = int(now.timestamp())
        if used.second != second:
            used.second, used.in_second = second, 0
        while used.minute and now - used.minute[0] >= timedelta(minutes=1):
            used.minute.popleft()
        today = now.astimezone(IST).date()
        if used.day != today:
            used.day, used.in_day = today, 0
        if limits.per_second and used.in_second >= limits.per_second:
            raise too_many_orders(f"more than {limits.per_second} orders in a second.")
        if limits.per_minute and len(used.minute) >= limits.per_minute:
            raise too_many_orders(f"more than {limits.per_minute} orders in a minute.")
        if limits.per_day and used.in_day >= limits.per_day:
            raise too_many_orders(f"more than {limits.per_day} orders in a day.")
        used.in_second += 1
        used.minute.append(now)
        used.in_day += 1

    def count_change(self, user_id: str, now: datetime) -> None:
        """Count one modification or cancellation in the calendar second of `now`, or raise 429."""
        used = self.users.setdefault(user_id, UserOrderCount())
        second = int(now.timestamp())
        if used.second != second:
            used.second, used.in_second = second, 0
        if self.limits.per_second and used.in_second >= self.limits.per_second:
            raise too_many_orders(f"more than {self.limits.per_second} orders in a second.")
        used.in_second += 1

    # Persistence (paper mode keeps the counts across restarts, as Kite would) -------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            user_id: {
                "second": used.second,
                "in_second": used.in_second,
                "minute": [moment.isoformat() for moment in used.minute],
                "day": used.day.isoformat() if used.day else None,
                "in_day": used.in_day,
            }
            for user_id, used in self.users.items()
        }

    def restore(self, state: dict[str, Any]) -> None:
        for user_id, used in state.items():
            self.users[user_id] = UserOrderCount(
                second=int(used["second"]),
                in_second=int(used["in_second"]),
                minute=deque(datetime.fromisoformat(moment) for moment in used["minute"]),
                day=date.fromisoformat(used["day"]) if used["day"] else None,
                in_day=int(used["in_day"]),
            )

"""Kite's per-api_key request rate limits by endpoint class, answered with HTTP 429."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# Requests per second Kite allows per api_key, by endpoint class.
LIMITS = {"quote": 1, "historical": 3, "orders": 10, "other": 10}


def endpoint_class(method: str, path: str) -> str:
    if path.startswith("/quote"):
        return "quote"
    if path.startswith("/instruments/historical"):
        return "historical"
    if path.startswith("/orders") and method in ("POST", "PUT", "DELETE"):
        return "orders"
    return "other"


class RateLimiter:
    """A sliding one-second window per (api_key, class); `scale` multiplies every limit."""

    def __init__(self, scale: float = 1.0, now: Callable[[], float] = time.monotonic) -> None:
        self.scale = scale
        self._now = now
        self._windows: dict[tuple[str, str], deque[float]] = {}

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

"""A clock the alerts tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 12, 3, 9, 15, tzinfo=UTC)


class Clock:
    """Now, moved only by the test."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

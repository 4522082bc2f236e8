"""Ids that never repeat, not even across restarts: each sequence starts above a floor read from
the clock (so a simulator that lost or never had saved state cannot hand out an id it gave out
before, at up to 10,000 ids a second) and above the next id of any state it restores."""

from __future__ import annotations

from datetime import datetime

from kite_wire import IST

PER_SECOND = 10_000  # ids a sequence may hand out per second of wall time without overtaking the next start


def seconds_into_day(now: datetime) -> int:
    local = now.astimezone(IST)
    return local.hour * 3600 + local.minute * 60 + local.second


class IdSequence:
    """A counter: `take` the next id; `restore` moves it past ids a saved state handed out."""

    def __init__(self, floor: int) -> None:
        self.next = floor

    def take(self) -> int:
        value, self.next = self.next, self.next + 1
        return value

    def restore(self, saved_next: int) -> None:
        self.next = max(self.next, saved_next)


def daily_sequence(now: datetime) -> IdSequence:
    """For ids prefixed with the day (order and trade ids): 9 digits, floored by the time of day."""
    return IdSequence(seconds_into_day(now) * PER_SECOND + 1)


def lifetime_sequence(now: datetime, minimum: int) -> IdSequence:
    """For ids without a day in them (GTT trigger ids): floored by Unix seconds."""
    return IdSequence(max(minimum, int(now.timestamp())))

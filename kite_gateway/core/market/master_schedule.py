"""When the instrument master is downloaded again: after Kite's morning dump, and, when a download
fails, again soon with a growing delay (the old master keeps serving meanwhile).

Kite generates the instruments dump once a day before the market opens; its documentation advises
fetching it once a day around 08:30 IST (Kite staff on the forum: "updated on the trading day around
8 AM"). The master is therefore refreshed at the first 08:35 IST (the dump time plus a margin) after
the last successful download, not 24 hours after it, so contracts listed that morning are found.
A morning download that brings exactly the instruments already loaded is taken for yesterday's dump
(not yet regenerated): on a trading day it is looked at again every RECHECK until LAST_RECHECK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from kite_wire import IST, TRADING_CALENDAR

DUMP_TIME_IST = time(8, 30)
DUMP_MARGIN = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(minutes=15)
RECHECK = timedelta(minutes=10)
LAST_RECHECK = time(10, 0)  # IST: a dump still unchanged then is today's


def next_dump_after(moment: datetime) -> datetime:
    """The first dump time (plus the margin) in IST strictly after `moment` (an aware datetime)."""
    local = moment.astimezone(IST)
    due = datetime.combine(local.date(), DUMP_TIME_IST, IST) + DUMP_MARGIN
    return due if due > local else due + timedelta(days=1)


def retry_delay(failures: int) -> timedelta:
    """The wait after the `failures`-th failed download in a row (1, 2, ...): doubling, capped."""
    doublings = min(max(failures - 1, 0), 16)  # 30 s * 2**16 is well past the cap
    return min(FIRST_RETRY * (1 << doublings), LONGEST_RETRY)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RefreshSchedule:
    """The next moment the master is due; nothing is due before the first download."""

    clock: Callable[[], datetime] = _utc_now
    due_at: datetime | None = None
    failures: int = 0

    def is_due(self) -> bool:
        return self.due_at is None or self.clock() >= self.due_at

    def downloaded(self) -> datetime:
        """A download succeeded: the next is after the next morning dump."""
        self.failures = 0
        self.due_at = next_dump_after(self.clock())
        return self.due_at

    def unchanged(self) -> datetime:
        """A download brought the instruments already loaded: on a trading-day morning, Kite's dump
        may not be regenerated yet, so look again soon; otherwise as after any download."""
        now = self.clock()
        local = now.astimezone(IST)
        if local.time() < LAST_RECHECK and TRADING_CALENDAR.is_trading_day("NSE", local.date()):
            self.failures = 0
            self.due_at = now + RECHECK
            return self.due_at
        return self.downloaded()

    def seconds_to_due(self) -> float:
        return 0.0 if self.due_at is None else max((self.due_at - self.clock()).total_seconds(), 0.0)

    def failed(self) -> datetime:
        """A download failed: try again after the backoff delay."""
        self.failures += 1
        self.due_at = self.clock() + retry_delay(self.failures)
        return self.due_at

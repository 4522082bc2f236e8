"""What the alert feeds' tests share: an `emit` that records, one that fails, and a fixed clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from kite_gateway.core.alerts import AlertEvent

NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)  # 10:30 in Mumbai


@dataclass
class Recorder:
    events: list[AlertEvent] = field(default_factory=list)

    def __call__(self, event: AlertEvent) -> None:
        self.events.append(event)


class Broken:
    """An alert center that fails on every offer."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: AlertEvent) -> None:
        self.calls += 1
        raise RuntimeError("the alert center is broken")


def clock() -> datetime:
    return NOW

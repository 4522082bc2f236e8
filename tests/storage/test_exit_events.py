"""Exit events on both backends: a rule is claimed once per scope and trading day, the outcome is
recorded afterwards, and a day's events read back in order."""

from __future__ import annotations

from datetime import date

from kite_gateway.storage import Database, ExitEventLog

DAY = date(2026, 12, 2)


async def test_a_rule_is_claimed_once_a_day_per_scope_and_its_outcome_recorded(database: Database) -> None:
    events = ExitEventLog(database)
    args = ("why", "-1000.5", "-1000", "", "0.25", True)
    first = await events.claim(DAY, "account", "ZS0001", "daily_loss_limit", *args)
    assert first is not None and first.outcome == "" and first.square_off
    assert await events.claim(DAY, "account", "ZS0001", "daily_loss_limit", *args) is None
    other = await events.claim(DAY, "strategy", "ZS0001", "daily_loss_limit", *args)  # another scope kind
    tomorrow = await events.claim(date(2026, 12, 3), "account", "ZS0001", "daily_loss_limit", *args)
    assert other is not None and tomorrow is not None
    await events.finish(first.event_id, "kill switch engaged")
    today = await events.of_day(DAY)
    assert [(e.scope, e.outcome, e.pnl, e.peak) for e in today] == [
        ("account", "kill switch engaged", "-1000.5", ""),
        ("strategy", "", "-1000.5", ""),
    ]

"""The audit trail's times on both backends: an entry is found by the instant it happened, whatever
offset the writer's clock or the reader's bounds carry (the daily report asks for an IST day; the
gateway's clock may be UTC or, in the simulator, IST). Before the fix both were stored and compared as
text in their own offsets, so an IST day's query matched the UTC date's entries instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kite_gateway.storage import AuditLog, Database
from kite_wire import IST


async def test_an_ist_days_query_finds_the_entries_of_that_ist_day_written_in_utc_or_ist(database: Database) -> None:
    audit = AuditLog(database)
    moments = {
        "before": datetime(2026, 11, 24, 23, 59, tzinfo=IST),
        "early-utc": datetime(2026, 11, 24, 20, 0, tzinfo=UTC),  # 01:30 IST on 25 Nov
        "late-ist": datetime(2026, 11, 25, 23, 30, tzinfo=IST),  # 18:00 UTC
        "next-utc": datetime(2026, 11, 25, 20, 0, tzinfo=UTC),  # 01:30 IST on 26 Nov
    }
    for name, moment in moments.items():
        await audit.append(moment, "p", "AB1234", 1, name, "", "{}", 0, "ok", 1.0)
    start = datetime(2026, 11, 25, tzinfo=IST)
    found = await audit.query("AB1234", start, start + timedelta(days=1), "", "", 0, 10)
    assert [e.client_order_id for e in found] == ["early-utc", "late-ist"]
    assert found[0].time == moments["early-utc"]

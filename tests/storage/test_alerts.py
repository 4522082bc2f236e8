"""Alerts on both backends: one contiguous sequence under concurrent appends and across a reopen,
each alert stored with its deliveries, rules made by RPC created, replaced and deleted, the engine's
state kept per key, and deliveries due, retried, delivered or dead."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kite_gateway.core.alerts import Alert, AlertKind, Severity
from kite_gateway.storage import DEAD, DELIVERED, PENDING_DELIVERY, AlertStore, Database, open_database

T0 = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def alert(n: int, at: datetime = T0) -> Alert:
    return Alert(f"rule-{n}", AlertKind.PRICE_CROSS, Severity.CRITICAL, "NSE:INFY", f"title {n}", f"message {n}",
                 {"last_price": "1600.05", "n": str(n)}, at)  # fmt: skip


async def test_an_appended_alert_reads_back_whole_under_sequence_one(database: Database) -> None:
    store = AlertStore(database)
    assert await store.last_sequence() == 0 and await store.after(0) == []
    [stored] = await store.append([alert(1, T0 + timedelta(microseconds=5))])
    assert stored.sequence == 1 and stored.kind == "PRICE_CROSS" and stored.severity == "critical"
    assert await store.after(0) == [stored] and await store.get(1) == stored
    assert stored.fields == {"last_price": "1600.05", "n": "1"} and stored.at == T0 + timedelta(microseconds=5)
    assert await store.last_sequence() == 1


async def test_concurrent_appends_from_two_stores_get_one_contiguous_sequence(database: Database) -> None:
    one, other = AlertStore(database), AlertStore(database)  # other: as another replica would
    batches = [[alert(n), alert(n + 100)] for n in range(20)]
    stored = await asyncio.gather(*((one, other)[n % 2].append(batch) for n, batch in enumerate(batches)))
    assert sorted(s.sequence for batch in stored for s in batch) == list(range(1, 41))
    for asked, got in zip(batches, stored, strict=True):  # a batch's alerts are consecutive and in order
        assert [s.rule_id for s in got] == [a.rule_id for a in asked] and got[1].sequence == got[0].sequence + 1
    assert [s.sequence for s in await one.after(0)] == list(range(1, 41))
    assert [s.sequence for s in await one.after(38, limit=5)] == [39, 40]


async def test_the_sequence_continues_after_the_database_is_reopened(database_url: str | None, tmp_path: Path) -> None:
    first = open_database(database_url, tmp_path)
    await first.open()
    await AlertStore(first).append([alert(1), alert(2)])
    await first.close()
    again = open_database(database_url, tmp_path)
    await again.open()
    try:
        [third] = await AlertStore(again).append([alert(3)])
        assert third.sequence == 3
    finally:
        await again.close()


async def test_each_alert_is_stored_with_a_pending_delivery_per_sink_due_when_stored(database: Database) -> None:
    store = AlertStore(database)
    now = T0 + timedelta(seconds=1)
    stored = await store.append([alert(1), alert(2)], deliver_to=[["ops", "pager", "ops"], []], now=now)
    assert await store.due(now - timedelta(microseconds=1)) == []
    due = await store.due(now)
    assert [(d.sink_id, d.sequence, d.state, d.attempts) for d, _ in due] == [
        ("ops", 1, PENDING_DELIVERY, 0), ("pager", 1, PENDING_DELIVERY, 0)]  # fmt: skip
    assert all(a == stored[0] for _, a in due)
    with pytest.raises(ValueError, match="deliver_to"):
        await store.append([alert(3)], deliver_to=[["ops"], ["ops"]])
    assert await store.last_sequence() == 2


async def test_a_failed_delivery_is_due_again_at_its_next_attempt_and_a_delivered_one_never(database: Database) -> None:
    store = AlertStore(database)
    await store.append([alert(1), alert(2)], deliver_to=[["ops"], ["ops"]], now=T0)
    retry_at = T0 + timedelta(seconds=4)
    await store.mark_failed("ops", 1, "HTTP 503", retry_at, T0)
    await store.mark_delivered("ops", 2, T0)
    assert await store.due(T0 + timedelta(seconds=3)) == []
    [(delivery, stored)] = await store.due(retry_at)
    assert (delivery.sequence, delivery.attempts, delivery.last_error, delivery.next_attempt_at) == (
        1, 1, "HTTP 503", retry_at)  # fmt: skip
    assert stored.sequence == 1
    done = await store.delivery("ops", 2)
    assert done is not None and done.state == DELIVERED and done.attempts == 1
    await store.mark_failed("ops", 2, "late", retry_at, T0)  # a delivered one is not moved back
    done_again = await store.delivery("ops", 2)
    assert done_again is not None and done_again.state == DELIVERED


async def test_a_dead_delivery_stays_as_a_dead_letter_of_its_sink_and_is_never_due(database: Database) -> None:
    store = AlertStore(database)
    await store.append([alert(1), alert(2)], deliver_to=[["ops", "pager"], ["pager"]], now=T0)
    await store.mark_dead("pager", 1, "HTTP 500", T0)
    await store.mark_dead("ops", 1, "timeout", T0)
    assert [(d.sink_id, d.sequence) for d, _ in await store.due(T0)] == [("pager", 2)]
    assert [(d.sink_id, d.state, d.last_error) for d in await store.dead_letters()] == [
        ("ops", DEAD, "timeout"), ("pager", DEAD, "HTTP 500")]  # fmt: skip
    assert [d.sink_id for d in await store.dead_letters("pager")] == ["pager"]
    assert await store.dead_letters("nobody") == []


async def test_a_rule_put_again_replaces_its_body_but_keeps_when_it_was_created(database: Database) -> None:
    store = AlertStore(database)
    first = await store.put_rule("infy", '{"id": "infy"}', "alice", T0)
    assert (first.body, first.principal, first.created_at, first.updated_at) == ('{"id": "infy"}', "alice", T0, T0)
    later = T0 + timedelta(minutes=5)
    replaced = await store.put_rule("infy", '{"id": "infy", "level": "2"}', "bob", later)
    assert (replaced.body, replaced.principal, replaced.created_at, replaced.updated_at) == (
        '{"id": "infy", "level": "2"}', "bob", T0, later)  # fmt: skip
    await store.put_rule("abc", "{}", "carol", T0)
    assert [r.rule_id for r in await store.all_rules()] == ["abc", "infy"]
    assert await store.delete_rule("infy") is True
    assert await store.delete_rule("infy") is False
    assert [r.rule_id for r in await store.all_rules()] == ["abc"] and await store.get_rule("infy") is None


async def test_the_engine_state_is_kept_per_key_and_replaced_by_the_next_save(database: Database) -> None:
    store = AlertStore(database)
    assert await store.load_state("gateway") is None
    await store.save_state("gateway", '{"version": 1}', T0)
    await store.save_state("replica-b", '{"version": 1, "b": 1}', T0)
    await store.save_state("gateway", '{"version": 1, "disarmed": {}}', T0 + timedelta(seconds=1))
    assert await store.load_state("gateway") == '{"version": 1, "disarmed": {}}'
    assert await store.load_state("replica-b") == '{"version": 1, "b": 1}'

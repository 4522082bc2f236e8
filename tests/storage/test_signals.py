"""Signals on both backends: a signal is claimed once per (strategy, signal id), a reused id with
another body is refused, states move only from the state the mover saw, every change is one event
in a contiguous sequence, expired pendings are found, and the orders a signal made are its lineage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import Database, SignalStore

T0 = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


async def test_a_signal_is_claimed_once_and_a_retry_gets_the_stored_one_untouched(database: Database) -> None:
    store = SignalStore(database)
    first, created = await store.claim("mom", "sig-1", "fp", '{"q": 1}', "alice", "RECEIVED", T0)
    assert created and first.state == "RECEIVED" and first.created_at == T0 and first.expires_at is None
    again, created_again = await store.claim("mom", "sig-1", "fp", '{"q": 1}', "bob", "RECEIVED", T0 + timedelta(1))
    assert not created_again and again == first
    other, created_other = await store.claim("rev", "sig-1", "fp2", "{}", "alice", "RECEIVED", T0)  # another strategy
    assert created_other and other.strategy_id == "rev"
    assert [(e.sequence, e.strategy_id, e.state) for e in await store.events_after(0)] == [
        (1, "mom", "RECEIVED"), (2, "rev", "RECEIVED")]  # fmt: skip


async def test_a_signal_id_reused_for_another_signal_is_refused_as_already_exists(database: Database) -> None:
    store = SignalStore(database)
    await store.claim("mom", "sig-1", "fp", "{}", "alice", "RECEIVED", T0)
    with pytest.raises(GatewayError) as refused:
        await store.claim("mom", "sig-1", "other", "{}", "alice", "RECEIVED", T0)
    assert refused.value.code is Status.ALREADY_EXISTS and refused.value.reason is Reason.IDEMPOTENCY_KEY_REUSED
    assert len(await store.events_after(0)) == 1


async def test_a_move_from_a_state_the_signal_has_left_changes_nothing(database: Database) -> None:
    store = SignalStore(database)
    await store.claim("mom", "sig-1", "fp", "{}", "alice", "RECEIVED", T0)
    deadline = T0 + timedelta(minutes=2)
    pending = await store.move("mom", "sig-1", "RECEIVED", "PENDING_APPROVAL", "", T0, expires_at=deadline)
    assert pending is not None and pending.state == "PENDING_APPROVAL" and pending.expires_at == deadline
    approved = await store.move("mom", "sig-1", "PENDING_APPROVAL", "APPROVED", "by carol", T0 + timedelta(1))
    assert approved is not None and approved.reason == "by carol"
    assert await store.move("mom", "sig-1", "PENDING_APPROVAL", "EXPIRED", "late", T0 + timedelta(2)) is None
    assert await store.move("mom", "nobody", "RECEIVED", "ROUTING", "", T0) is None
    events = await store.events_after(0)
    assert [(e.sequence, e.state) for e in events] == [(1, "RECEIVED"), (2, "PENDING_APPROVAL"), (3, "APPROVED")]
    assert [e.sequence for e in await store.events_after(1, limit=1)] == [2]


async def test_only_pending_signals_past_their_deadline_are_expired_ones(database: Database) -> None:
    store = SignalStore(database)
    for signal_id, minutes in (("due", 1), ("later", 10), ("decided", 1)):
        await store.claim("mom", signal_id, "fp", "{}", "alice", "RECEIVED", T0)
        await store.move("mom", signal_id, "RECEIVED", "PENDING_APPROVAL", "", T0,
                         expires_at=T0 + timedelta(minutes=minutes))  # fmt: skip
    await store.move("mom", "decided", "PENDING_APPROVAL", "REJECTED", "", T0)
    at_deadline = T0 + timedelta(minutes=1)
    assert [s.signal_id for s in await store.pending_expired(at_deadline)] == ["due"]
    assert await store.pending_expired(at_deadline - timedelta(seconds=1)) == []


async def test_a_signals_orders_are_its_lineage_and_the_strategys_placed_orders(database: Database) -> None:
    store = SignalStore(database)
    await store.claim("mom", "sig-1", "fp", "{}", "alice", "ROUTING", T0)
    await store.add_order("mom", "sig-1", "ZS0001", "sig-abc", T0)
    await store.add_order("mom", "sig-1", "ZS0002", "sig-def", T0)
    await store.add_order("mom", "sig-1", "ZS0001", "sig-other", T0)  # a retry records it again: kept as it was
    await store.set_order("mom", "sig-1", "ZS0001", "order-1", "placed", T0)
    await store.set_order("mom", "sig-1", "ZS0002", "", "failed", T0, "margin")
    orders = await store.orders_of("mom", "sig-1")
    assert [(o.account_id, o.client_order_id, o.order_id, o.status, o.detail) for o in orders] == [
        ("ZS0001", "sig-abc", "order-1", "placed", ""), ("ZS0002", "sig-def", "", "failed", "margin")]  # fmt: skip
    assert await store.orders_of_strategy("mom") == [("ZS0001", "order-1")]
    assert await store.orders_of_strategy("rev") == []


async def test_a_strategys_signals_list_newest_first(database: Database) -> None:
    store = SignalStore(database)
    for n in range(3):
        await store.claim("mom", f"sig-{n}", "fp", "{}", "alice", "RECEIVED", T0 + timedelta(seconds=n))
    assert [s.signal_id for s in await store.recent("mom", limit=2)] == ["sig-2", "sig-1"]

"""The alert center over the SQLite store: offered events become stored alerts under one sequence
with a delivery per sink that takes them; a full queue drops and counts, warning once per burst;
rules put and deleted by RPC keep the other rules' state; a restarted center continues the
sequence and does not fire again what it fired before; listeners wake without polling."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from structlog.testing import capture_logs

from kite_gateway.core.alerts import (
    AlertCenter,
    AlertKind,
    Direction,
    OrderEvent,
    PriceCrossRule,
    PriceEvent,
    RuleSource,
    Severity,
    TickerEvent,
    TickerRule,
    TickerState,
    WebhookSink,
)
from kite_gateway.errors import GatewayError, Status
from kite_gateway.storage import AlertStore, StoredAlert
from tests.core.alerts.fakes import T0, Clock

ABOVE = PriceCrossRule(id="infy-above-1600", scope="NSE:INFY", direction=Direction.ABOVE, level=Decimal("1600"),
                       severity=Severity.CRITICAL)  # fmt: skip
STALE = TickerRule(id="ticker", scope="*", down=True, stale_seconds=20)
OPS = WebhookSink("ops", "https://hooks.example/ops", "OPS", "secret")
PAGER = WebhookSink("pager", "https://hooks.example/pager", "PAGER", "secret", min_severity=Severity.CRITICAL)
ORDERS_ONLY = WebhookSink("orders", "https://hooks.example/orders", "ORD", "secret",
                          kinds=frozenset({AlertKind.ORDER_STATUS}))  # fmt: skip
TCS_RULE = {"id": "tcs-below-3000", "kind": "PRICE_CROSS", "scope": "NSE:TCS", "direction": "below", "level": "3000"}


def price(last: str, symbol: str = "INFY", s: float = 0) -> PriceEvent:
    return PriceEvent("NSE", symbol, Decimal(last), Decimal("1500"), T0 + timedelta(seconds=s))


def center(store: AlertStore, clock: Clock, **options: Any) -> AlertCenter:
    options.setdefault("sinks", [OPS, PAGER, ORDERS_ONLY])
    return AlertCenter(store, [ABOVE, STALE], clock=clock, **options)


async def started(store: AlertStore, clock: Clock, **options: Any) -> AlertCenter:
    made = center(store, clock, **options)
    await made.start()
    return made


async def test_an_offered_crossing_is_stored_as_alert_one_with_a_delivery_per_sink_taking_it(
    store: AlertStore, clock: Clock
) -> None:
    alerts = await started(store, clock)
    alerts.offer(price("1599"))
    alerts.offer(price("1600.05"))
    alerts.offer(price("1650"))  # still above: no second alert
    assert await alerts.process_pending() == 3
    [stored] = await alerts.after(0)
    assert (stored.sequence, stored.rule_id, stored.kind, stored.severity) == (1, ABOVE.id, "PRICE_CROSS", "critical")
    assert stored.fields["last_price"] == "1600.05" and alerts.last_sequence == 1
    assert sorted(d.sink_id for d, _ in await store.due(clock.now)) == ["ops", "pager"]  # not the orders-only sink


async def test_a_full_queue_drops_and_counts_by_event_type_warning_once_per_burst(
    store: AlertStore, clock: Clock
) -> None:
    alerts = await started(store, clock, max_queue=3)
    order = OrderEvent("ZS0001", "o1", "OPEN", 0, 1, "", T0)
    with capture_logs() as logs:
        for n in range(3):
            alerts.offer(price(str(1500 + n)))
        alerts.offer(price("1700"))
        alerts.offer(order)
        alerts.offer(price("1701"))
    assert alerts.queued == 3 and alerts.dropped == {"PriceEvent": 2, "OrderEvent": 1}
    assert [entry["event"] for entry in logs] == ["alerts.queue_full"]  # once for the burst
    await alerts.process_pending()  # the queue empties: the burst is over
    with capture_logs() as logs:
        for _ in range(5):
            alerts.offer(price("1400"))
    assert alerts.queued == 3 and alerts.dropped["PriceEvent"] == 4
    assert [entry["event"] for entry in logs] == ["alerts.queue_full"]  # a new burst warns again


async def test_a_rule_put_by_rpc_fires_and_the_file_rules_state_is_kept(store: AlertStore, clock: Clock) -> None:
    alerts = await started(store, clock)
    alerts.offer(price("1601"))
    await alerts.process_pending()
    rule = await alerts.put_rule(TCS_RULE, "alice")
    assert rule.id == "tcs-below-3000"
    assert [(r.rule.id, r.source, r.principal) for r in alerts.rules()] == [
        (ABOVE.id, RuleSource.FILE, ""),
        (STALE.id, RuleSource.FILE, ""),
        (rule.id, RuleSource.STORED, "alice"),
    ]
    alerts.offer(price("1602"))  # INFY is still above: the file rule, kept disarmed, stays quiet
    alerts.offer(price("2999", symbol="TCS"))
    await alerts.process_pending()
    assert [(a.sequence, a.rule_id) for a in await alerts.after(0)] == [(1, ABOVE.id), (2, rule.id)]
    await alerts.delete_rule(rule.id)
    assert [r.rule.id for r in alerts.rules()] == [ABOVE.id, STALE.id]
    alerts.offer(price("1603"))
    alerts.offer(price("2900", symbol="TCS"))
    await alerts.process_pending()
    assert alerts.last_sequence == 2  # the deleted rule is gone, the file rule still disarmed


async def test_a_rule_replaced_with_another_level_starts_armed_and_an_unchanged_one_keeps_its_state(
    store: AlertStore, clock: Clock
) -> None:
    alerts = await started(store, clock)
    await alerts.put_rule(TCS_RULE, "alice")
    alerts.offer(price("2999", symbol="TCS"))
    await alerts.process_pending()
    await alerts.put_rule(TCS_RULE, "bob")  # the same rule again: still disarmed
    alerts.offer(price("2998", symbol="TCS"))
    await alerts.process_pending()
    assert alerts.last_sequence == 1
    await alerts.put_rule({**TCS_RULE, "level": "2998.50"}, "bob")  # a new level: a new crossing
    alerts.offer(price("2998", symbol="TCS"))
    await alerts.process_pending()
    assert [a.fields["level"] for a in await alerts.after(0)] == ["3000", "2998.50"]
    [stored] = [r for r in alerts.rules() if r.source is RuleSource.STORED]
    assert stored.principal == "bob" and stored.created_at == T0


@pytest.mark.parametrize(
    ("table", "status", "named"),
    [
        ({"id": "x", "kind": "PRICE_CROSS", "scope": "NSE:TCS"}, Status.INVALID_ARGUMENT, "level is required"),
        ({"id": "x", "kind": "NOPE", "scope": "*"}, Status.INVALID_ARGUMENT, "kind must be one of"),
        ({**TCS_RULE, "id": ABOVE.id}, Status.FAILED_PRECONDITION, "comes from the alerts file"),
    ],
)
async def test_a_rule_that_is_invalid_or_a_file_rules_is_refused_and_nothing_is_stored(
    store: AlertStore, clock: Clock, table: dict[str, Any], status: Status, named: str
) -> None:
    alerts = await started(store, clock)
    with pytest.raises(GatewayError) as refused:
        await alerts.put_rule(table, "alice")
    assert refused.value.code is status and named in refused.value.message
    assert await store.all_rules() == []


async def test_deleting_a_file_rule_or_an_unknown_one_is_refused(store: AlertStore, clock: Clock) -> None:
    alerts = await started(store, clock)
    with pytest.raises(GatewayError) as file_rule:
        await alerts.delete_rule(ABOVE.id)
    assert file_rule.value.code is Status.FAILED_PRECONDITION
    with pytest.raises(GatewayError) as unknown:
        await alerts.delete_rule("nobody")
    assert unknown.value.code is Status.NOT_FOUND and unknown.value.metadata == {"rule_id": "nobody"}
    assert [r.rule.id for r in alerts.rules()] == [ABOVE.id, STALE.id]


async def test_a_restarted_center_continues_the_sequence_and_does_not_fire_again_what_it_fired(
    store: AlertStore, clock: Clock
) -> None:
    first = await started(store, clock)
    await first.put_rule(TCS_RULE, "alice")
    first.offer(price("1601"))
    first.offer(price("2999", symbol="TCS"))
    await first.process_pending()
    assert first.last_sequence == 2

    again = await started(store, clock)  # the gateway restarted: same database, fresh process
    assert again.last_sequence == 2 and [r.rule.id for r in again.rules()][-1] == TCS_RULE["id"]
    again.offer(price("1650"))  # still above: the restored state says it was already paged
    again.offer(price("2990", symbol="TCS"))
    await again.process_pending()
    assert again.last_sequence == 2
    again.offer(price("1500"))  # back below re-arms ...
    again.offer(price("1600"))  # ... and a new crossing is alert 3
    await again.process_pending()
    assert [a.sequence for a in await again.after(0)] == [1, 2, 3]


async def test_a_center_without_a_restored_snapshot_would_fire_again(store: AlertStore, clock: Clock) -> None:
    """The control for the restart test: the snapshot, not luck, is what keeps it quiet."""
    first = await started(store, clock)
    first.offer(price("1601"))
    await first.process_pending()
    await store.database.execute("DELETE FROM alert_engine_state")
    again = await started(store, clock)
    again.offer(price("1650"))
    await again.process_pending()
    assert [a.sequence for a in await again.after(0)] == [1, 2]


class FlakyStore(AlertStore):
    """An AlertStore whose next `failures` appends raise, as a database going away would."""

    failures = 0

    async def append(
        self, alerts: Sequence[Any], deliver_to: Sequence[Sequence[str]] = (), now: datetime | None = None,
        state: tuple[str, str] | None = None,
    ) -> list[StoredAlert]:  # fmt: skip
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database went away")
        return await super().append(alerts, deliver_to, now, state)


async def test_alerts_a_failed_store_could_not_keep_are_stored_on_the_next_try_not_lost(
    store: AlertStore, clock: Clock
) -> None:
    flaky = FlakyStore(store.database)
    alerts = await started(flaky, clock)
    flaky.failures = 1
    alerts.offer(price("1601"))
    with pytest.raises(ConnectionError):
        await alerts.process_pending()
    assert await store.after(0) == []
    alerts.offer(price("1602"))  # still above: no new alert, but the unsaved one goes first
    await alerts.process_pending()
    assert [(a.sequence, a.fields["last_price"]) for a in await store.after(0)] == [(1, "1601")]


async def test_run_wakes_a_listener_waiting_beyond_its_last_sequence_for_an_offer_from_another_thread(
    store: AlertStore, clock: Clock
) -> None:
    woken: list[str] = []
    alerts = await started(store, clock, on_stored=lambda: woken.append("deliverer"))
    worker = asyncio.create_task(alerts.run())
    try:
        waiting = asyncio.create_task(alerts.wait_beyond(0))
        await asyncio.sleep(0)
        assert not waiting.done()
        offering = threading.Thread(target=alerts.offer, args=(price("1601"),))
        offering.start()
        offering.join()
        assert await waiting == 1
        assert await alerts.wait_beyond(0) == 1  # already beyond: at once
        assert woken == ["deliverer"]
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker


async def test_a_tick_fires_the_time_based_rules_and_run_ticks_calls_it_every_interval(
    store: AlertStore, clock: Clock
) -> None:
    slept: list[float] = []
    asleep = asyncio.Event()
    gate = asyncio.Queue[None]()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        asleep.set()
        await gate.get()

    alerts = await started(store, clock, sleep=sleep)
    alerts.offer(TickerEvent("ZS0001", TickerState.CONNECTED, T0, T0))
    await alerts.process_pending()
    assert alerts.last_sequence == 0
    ticking = asyncio.create_task(alerts.run_ticks(5.0))
    try:
        for seconds in (10, 20):
            await asleep.wait()
            asleep.clear()
            assert alerts.last_sequence == 0  # 0, then 10 s without a tick: not stale yet
            clock.now = T0 + timedelta(seconds=seconds)
            gate.put_nowait(None)  # the interval passes: tick
        assert await alerts.wait_beyond(0) == 1  # 20 s: stale
        [alert] = await alerts.after(0)
        assert alert.rule_id == STALE.id and "stale" in alert.title
        assert slept[:2] == [5.0, 5.0]
    finally:
        ticking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await ticking


async def test_a_stored_rule_the_file_took_since_is_skipped_with_a_warning(store: AlertStore, clock: Clock) -> None:
    await store.put_rule(ABOVE.id, json.dumps({**TCS_RULE, "id": ABOVE.id}), "alice", T0)
    await store.put_rule("broken", '{"id": "broken"}', "alice", T0)
    with capture_logs() as logs:
        alerts = await started(store, clock)
    assert [r.source for r in alerts.rules()] == [RuleSource.FILE, RuleSource.FILE]
    assert sorted(e["event"] for e in logs) == ["alerts.stored_rule_invalid", "alerts.stored_rule_shadowed"]


async def test_a_rule_given_with_decimal_amounts_is_stored_as_text_and_reads_back_after_a_restart(
    store: AlertStore, clock: Clock
) -> None:
    alerts = await started(store, clock)
    rule = await alerts.put_rule({**TCS_RULE, "level": Decimal("3000.05")}, "alice")
    assert isinstance(rule, PriceCrossRule) and rule.level == Decimal("3000.05")
    [stored] = await store.all_rules()
    assert json.loads(stored.body)["level"] == "3000.05"
    again = await started(store, clock)
    assert [r.rule for r in again.rules() if r.source is RuleSource.STORED] == [rule]


async def test_a_listener_wakes_on_refresh_for_an_alert_another_replica_stored(store: AlertStore, clock: Clock) -> None:
    here, there = await started(store, clock), await started(store, clock, state_key="replica-b")
    waiting = asyncio.create_task(here.wait_beyond(0))
    there.offer(price("1601"))
    await there.process_pending()
    await asyncio.sleep(0)
    assert not waiting.done()  # only the store knows
    assert await here.refresh() == 1
    assert await waiting == 1

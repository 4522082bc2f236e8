"""The alerts use case: events in from the gateway's hot paths, alerts stored, streamed and delivered.

`offer(event)` is what the tick and order paths call: synchronous, never blocking, safe from any
thread. It puts the event on a bounded queue; a full queue drops the event and counts it (`dropped`,
by event type, for a metric), warning once per burst of drops (a burst ends when the queue empties)
- the hot paths never wait on the alerts and memory never grows without bound.

`run()` consumes the queue in batches: the engine (engine.py) observes each event; the batch's
alerts are stored under the next sequences with a delivery per webhook sink that takes each
(sinks.py, delivery.py) and the engine's snapshot, all in one transaction (so a restart neither loses
an alert nor fires it again); then listeners waiting in `wait_beyond()` wake and so does the
deliverer (`on_stored`). A store that fails keeps the batch's alerts in memory and is retried before
any more events are taken (the queue bounds what waits meanwhile). `tick()`, called by `run_ticks()`
every few seconds, does the same for the rules that fire on time passing.

Rules come from the alerts file (KITE_GATEWAY_ALERTS_FILE: fixed while the gateway runs) and from
RPC (`put_rule`, `delete_rule`: kept in the store). Changing them rebuilds the engine keeping its
state (AlertEngine.with_rules): the other rules do not page again. `start()` loads the stored rules
and the snapshot. Every port (the store, the clock, the sleep) is a constructor argument, so tests
run it with fakes and no real time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog

from kite_gateway.core.alerts.engine import DEFAULT_MAX_KEYS, AlertEngine, AlertStateError
from kite_gateway.core.alerts.events import Alert, AlertEvent
from kite_gateway.core.alerts.rules import AlertConfigError, AlertRule, rule_from_table
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import StoredAlert, StoredRule

log = structlog.get_logger(__name__)

DEFAULT_MAX_QUEUE = 10_000
DEFAULT_BATCH = 500
DEFAULT_STATE_KEY = "gateway"

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class RuleSource(StrEnum):
    FILE = "file"  # the alerts file: changed by editing it and restarting, never by RPC
    STORED = "stored"  # made by RPC, kept in the database


@dataclass(frozen=True)
class SourcedRule:
    rule: AlertRule
    source: RuleSource
    principal: str = ""  # who made a stored rule
    created_at: datetime | None = None
    updated_at: datetime | None = None


class AlertCenterStore(Protocol):
    """What the center needs of the store (kite_gateway.storage.AlertStore is one)."""

    async def append(
        self,
        alerts: Sequence[Alert],
        deliver_to: Sequence[Sequence[str]] = (),
        now: datetime | None = None,
        state: tuple[str, str] | None = None,
    ) -> list[StoredAlert]: ...
    async def after(self, sequence: int, limit: int = 500) -> list[StoredAlert]: ...
    async def last_sequence(self) -> int: ...
    async def put_rule(self, rule_id: str, body: str, principal: str, now: datetime) -> StoredRule: ...
    async def delete_rule(self, rule_id: str) -> bool: ...
    async def all_rules(self) -> list[StoredRule]: ...
    async def save_state(self, state_key: str, state: str, now: datetime) -> None: ...
    async def load_state(self, state_key: str) -> str | None: ...


class Sink(Protocol):
    """A delivery target as the center sees it: which alerts it takes (sinks.WebhookSink is one)."""

    @property
    def id(self) -> str: ...
    def accepts(self, alert: Alert) -> bool: ...


def _plain(table: object) -> Any:
    """The table as JSON would give it back (amounts given as Decimal become strings), so the rule
    parsed now is the rule parsed from the store after a restart."""
    return json.loads(json.dumps(table, default=str))


class AlertCenter:
    def __init__(
        self,
        store: AlertCenterStore,
        file_rules: Sequence[AlertRule],
        *,
        clock: Clock,
        sinks: Sequence[Sink] = (),
        max_queue: int = DEFAULT_MAX_QUEUE,
        batch: int = DEFAULT_BATCH,
        state_key: str = DEFAULT_STATE_KEY,
        on_stored: Callable[[], None] | None = None,
        sleep: Sleep = asyncio.sleep,
        retry_interval: float = 1.0,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if max_queue < 1 or batch < 1:
            raise ValueError("max_queue and batch must be at least 1")
        self.store = store
        self.file_rules = tuple(file_rules)
        self.clock = clock
        self.sinks = tuple(sinks)
        self.max_queue = max_queue
        self.batch = batch
        self.state_key = state_key
        self.on_stored = on_stored
        self.sleep = sleep
        self.retry_interval = retry_interval
        self.max_keys = max_keys
        self.dropped: dict[str, int] = {}  # events dropped on a full queue, by event type (a metric)
        # told the rules after each change by RPC (the price feed follows their instruments)
        self.rule_listeners: list[Callable[[Sequence[AlertRule]], Awaitable[None]]] = []
        self.engine = AlertEngine(self.file_rules, max_keys)
        self._file_ids = {rule.id for rule in self.file_rules}
        self._stored: dict[str, tuple[AlertRule, StoredRule]] = {}
        self._queue: deque[AlertEvent] = deque()
        self._guard = threading.Lock()  # offer() may be called from another thread
        self._dropping = False
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work = asyncio.Lock()  # one of: a batch, a tick, a rule change
        self._unsaved: list[Alert] = []
        self._saved_state: str | None = None
        self._last = 0
        self._changed = asyncio.Condition()
        self._started = False

    # --- the hot paths ---------------------------------------------------------------------------

    def offer(self, event: AlertEvent) -> None:
        """Queue an event for the engine; never blocks. A full queue drops it (counted in `dropped`)."""
        with self._guard:
            full = len(self._queue) >= self.max_queue
            if full:
                name = type(event).__name__
                self.dropped[name] = self.dropped.get(name, 0) + 1
                first_of_burst = not self._dropping
                self._dropping = True
            else:
                self._queue.append(event)
        if full:
            if first_of_burst:
                log.warning("alerts.queue_full", max_queue=self.max_queue, event_type=name, dropped=dict(self.dropped))
            return
        self._signal()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _signal(self) -> None:
        loop = self._loop
        if loop is None:
            return  # not started: start() looks at the queue
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._ready.set()
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the gateway is stopping
            loop.call_soon_threadsafe(self._ready.set)

    def _take(self) -> list[AlertEvent]:
        with self._guard:
            taken = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
            if not self._queue and self._dropping:
                self._dropping = False  # the burst is over: the next drop warns again
        return taken

    # --- the loops -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the stored rules and the engine's snapshot; the sequence to continue from."""
        self._loop = asyncio.get_running_loop()
        for stored in await self.store.all_rules():
            try:
                rule = rule_from_table(json.loads(stored.body), f"stored alert rule {stored.rule_id!r}")
            except (AlertConfigError, ValueError) as exc:
                log.warning("alerts.stored_rule_invalid", rule_id=stored.rule_id, error=str(exc))
                continue
            if rule.id in self._file_ids:  # the file took the id since: the file's rule wins
                log.warning("alerts.stored_rule_shadowed", rule_id=rule.id)
                continue
            self._stored[rule.id] = (rule, stored)
        self.engine = AlertEngine(self._all_rules(), self.max_keys)
        raw = await self.store.load_state(self.state_key)
        if raw is not None:
            try:
                self.engine.restore(json.loads(raw))
                self._saved_state = raw
            except (AlertStateError, ValueError) as exc:
                log.warning("alerts.state_unreadable", state_key=self.state_key, error=str(exc))
        self._last = await self.store.last_sequence()
        self._started = True
        if self._queue:
            self._ready.set()

    async def run(self) -> None:
        """Consume the queue until cancelled (start() first)."""
        if not self._started:
            raise RuntimeError("AlertCenter.run() before start()")
        while True:
            await self._ready.wait()
            self._ready.clear()
            try:
                await self.process_pending()
            except Exception as exc:
                log.warning("alerts.store_failed", error=f"{type(exc).__name__}: {exc}", unsaved=len(self._unsaved))
                await self.sleep(self.retry_interval)
                self._ready.set()

    async def process_pending(self) -> int:
        """Observe every queued event, batch by batch, storing each batch's alerts; how many events."""
        processed = 0
        async with self._work:
            while True:
                if self._unsaved:  # a store that failed before: those first, before taking more
                    await self._persist()
                events = self._take()
                if not events:
                    return processed
                for event in events:
                    try:
                        self._unsaved.extend(self.engine.observe(event))
                    except Exception:  # a bug in a rule must not stop the alerts
                        log.exception("alerts.observe_failed", event_type=type(event).__name__)
                processed += len(events)
                await self._persist()

    async def tick(self) -> list[StoredAlert]:
        """The rules that fire on time passing (a stale ticker, a session about to expire)."""
        async with self._work:
            self._unsaved.extend(self.engine.tick(self.clock()))
            return await self._persist()

    async def run_ticks(self, interval: float) -> None:
        """tick() every `interval` seconds until cancelled."""
        while True:
            await self.sleep(interval)
            try:
                await self.tick()
            except Exception as exc:
                log.warning("alerts.tick_failed", error=f"{type(exc).__name__}: {exc}")

    async def _persist(self) -> list[StoredAlert]:
        alerts = self._unsaved
        state = json.dumps(self.engine.snapshot(), sort_keys=True)
        if not alerts and state == self._saved_state:
            return []
        deliver_to = [[sink.id for sink in self.sinks if sink.accepts(alert)] for alert in alerts]
        stored = await self.store.append(alerts, deliver_to, self.clock(), (self.state_key, state))
        self._unsaved = []
        self._saved_state = state
        if stored:
            async with self._changed:
                self._last = max(self._last, stored[-1].sequence)
                self._changed.notify_all()
            if self.on_stored is not None:
                self.on_stored()
        return stored

    # --- readers ---------------------------------------------------------------------------------

    @property
    def last_sequence(self) -> int:
        """The newest alert's sequence this center knows (stored by it, or before it started)."""
        return self._last

    async def after(self, sequence: int, limit: int = 500) -> list[StoredAlert]:
        """The stored alerts after `sequence`, oldest first (a stream resumes after its last)."""
        return await self.store.after(sequence, limit)

    async def wait_beyond(self, sequence: int) -> int:
        """Wait until an alert after `sequence` is stored; the newest sequence then. Returns at once
        when there is one already. Cancel it (or asyncio.timeout) to stop waiting."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._last > sequence)
            return self._last

    async def refresh(self) -> int:
        """Look at the store's newest sequence and wake the listeners if it moved: for alerts another
        replica stored (this center only knows its own otherwise). The newest sequence."""
        last = await self.store.last_sequence()
        if last > self._last:
            async with self._changed:
                self._last = max(self._last, last)
                self._changed.notify_all()
        return self._last

    # --- rules -----------------------------------------------------------------------------------

    def rules(self) -> list[SourcedRule]:
        """The file's rules, then the stored ones by id, each with where it comes from."""
        found = [SourcedRule(rule, RuleSource.FILE) for rule in self.file_rules]
        for rule_id in sorted(self._stored):
            rule, stored = self._stored[rule_id]
            found.append(SourcedRule(rule, RuleSource.STORED, stored.principal, stored.created_at, stored.updated_at))
        return found

    def _all_rules(self) -> list[AlertRule]:
        return [*self.file_rules, *(self._stored[rule_id][0] for rule_id in sorted(self._stored))]

    async def put_rule(self, table: dict[str, Any], principal: str) -> AlertRule:
        """Create the rule of an [[alerts.rules]]-shaped table, or replace the stored one of its id.
        INVALID_ARGUMENT when the table is not a valid rule; FAILED_PRECONDITION when its id is a file rule's."""
        plain = _plain(table)
        try:
            rule = rule_from_table(plain, "rule")
        except AlertConfigError as exc:
            raise GatewayError(Status.INVALID_ARGUMENT, Reason.INVALID_FIELD, str(exc),
                               field_violations=[("rule", str(exc))]) from None  # fmt: skip
        self._refuse_file_rule(rule.id, "replaced")
        async with self._work:
            stored = await self.store.put_rule(rule.id, json.dumps(plain, sort_keys=True), principal, self.clock())
            self._stored[rule.id] = (rule, stored)
            await self._rebuild()
        log.info("alerts.rule_put", rule_id=rule.id, kind=rule.kind.value, principal=principal)
        await self._rules_changed()
        return rule

    async def delete_rule(self, rule_id: str) -> None:
        """Delete a stored rule. NOT_FOUND when there is none; FAILED_PRECONDITION for a file rule."""
        self._refuse_file_rule(rule_id, "deleted")
        async with self._work:
            if not await self.store.delete_rule(rule_id):
                raise GatewayError(Status.NOT_FOUND, Reason.UNSPECIFIED,
                                   f"there is no alert rule {rule_id!r}; list the rules to see their ids",
                                   {"rule_id": rule_id})  # fmt: skip
            self._stored.pop(rule_id, None)
            await self._rebuild()
        log.info("alerts.rule_deleted", rule_id=rule_id)
        await self._rules_changed()

    async def _rules_changed(self) -> None:
        rules = self._all_rules()
        for listener in self.rule_listeners:
            try:
                await listener(rules)
            except Exception:  # a feed that cannot follow the change is logged, the rule stands
                log.exception("alerts.rule_listener_failed")

    def _refuse_file_rule(self, rule_id: str, done: str) -> None:
        if rule_id in self._file_ids:
            raise GatewayError(
                Status.FAILED_PRECONDITION,
                Reason.UNSPECIFIED,
                f"alert rule {rule_id!r} comes from the alerts file and cannot be {done} by RPC; edit the file "
                "(KITE_GATEWAY_ALERTS_FILE) and restart the gateway, or use another id",
                {"rule_id": rule_id},
                precondition_violations=[("ALERT_RULE_SOURCE", rule_id, "defined in the alerts file")],
            )

    async def _rebuild(self) -> None:
        """The engine over the rules now, keeping the state of the rules unchanged; state saved."""
        self.engine = self.engine.with_rules(self._all_rules())
        await self._persist()

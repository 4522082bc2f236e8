"""AlertService: the gateway's alerts (kite_gateway/core/alerts) read, streamed and their rules
changed by RPC, over the alert center; the dead letters from the alerts' store.

Alerts are gateway-wide operational data: reads need a signed-in caller and changing rules an admin
(kite_gateway/auth/policy.py). A gateway without an alerts file has no center: every method answers
FAILED_PRECONDITION saying how to configure one.

StreamAlerts replays from the store, then waits on the center (AlertCenter.wait_beyond) for the next
stored alert; the only timer is the heartbeat's, bounding each wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

import grpc
from kite_gateway_api.v1 import alert_pb2, alert_pb2_grpc, common_pb2

from kite_gateway.core.alerts import ALERTS_FILE_ENV, AlertCenter, RuleSource, SourcedRule
from kite_gateway.errors import GatewayError, Reason, Status, invalid
from kite_gateway.grpc import alert_mapping
from kite_gateway.grpc.context import principal_of
from kite_gateway.grpc.heartbeats import heartbeat_seconds
from kite_gateway.storage import Delivery, StoredAlert

DEFAULT_PAGE = 100
MAX_PAGE = 500
SCAN_PAGE = 500  # alerts read from the store at a time
MAX_SCAN_PAGES = 10  # a filtered ListAlerts reads at most this many pages, then answers where it got to


@runtime_checkable
class DeadLetterStore(Protocol):
    """What the servicer reads of the store besides the center (kite_gateway.storage.AlertStore is one)."""

    async def dead_letters(self, sink_id: str | None = None, limit: int = 500) -> list[Delivery]: ...
    async def get(self, sequence: int) -> StoredAlert | None: ...


def not_configured() -> GatewayError:
    return GatewayError(Status.FAILED_PRECONDITION, Reason.UNSPECIFIED,
                        f"no alerts configured: set {ALERTS_FILE_ENV} to an alerts file and restart the gateway",
                        precondition_violations=[("ALERTS_CONFIGURED", ALERTS_FILE_ENV, "not set")])  # fmt: skip


def beyond_newest(after: int, newest: int) -> GatewayError:
    return GatewayError(Status.OUT_OF_RANGE, Reason.SEQUENCE_OUT_OF_RANGE,
                        f"after_sequence {after} is beyond the newest alert ({newest}): resume from a sequence "
                        "this gateway sent, or 0 for everything kept",
                        {"after_sequence": str(after), "newest_sequence": str(newest)})  # fmt: skip


def _page_size(value: int) -> int:
    if not 0 <= value <= MAX_PAGE:
        raise invalid("page_size", f"1-{MAX_PAGE}, or unset for {DEFAULT_PAGE}")
    return value or DEFAULT_PAGE


class AlertServicer(alert_pb2_grpc.AlertServiceServicer):
    def __init__(self, center: AlertCenter | None, store: DeadLetterStore | None = None) -> None:
        """`center`: the gateway's alert center, None when no alerts file is configured. `store`: where
        the dead letters are read (None: the center's own store, which must be able to)."""
        if center is not None and store is None:
            if not isinstance(center.store, DeadLetterStore):
                raise TypeError("the center's store cannot list dead letters: pass the AlertStore as store")
            store = center.store
        self.center = center
        self.store = store

    def _center(self) -> AlertCenter:
        if self.center is None:
            raise not_configured()
        return self.center

    async def ListAlerts(
        self, request: alert_pb2.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> alert_pb2.ListAlertsResponse:
        center = self._center()
        size = _page_size(request.page_size)
        kinds, min_severity = alert_mapping.kinds_wanted(request.kinds), int(request.min_severity)
        filtered = bool(kinds) or min_severity > 0
        newest = await center.refresh()
        last = request.after_sequence
        if last > newest:
            raise beyond_newest(last, newest)
        found: list[StoredAlert] = []
        for _ in range(MAX_SCAN_PAGES):
            rows = await center.after(last, SCAN_PAGE if filtered else size)
            for row in rows:
                last = row.sequence
                if alert_mapping.wanted(row, kinds, min_severity):
                    found.append(row)
                    if len(found) == size:
                        break
            if len(found) == size or len(rows) < (SCAN_PAGE if filtered else size):
                break
        return alert_pb2.ListAlertsResponse(
            alerts=[alert_mapping.alert_pb(row) for row in found],
            next_after_sequence=last,
            newest_sequence=max(newest, last),
        )

    async def StreamAlerts(
        self, request: alert_pb2.StreamAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[alert_pb2.StreamAlertsResponse]:
        center = self._center()
        interval = heartbeat_seconds(request)
        kinds, min_severity = alert_mapping.kinds_wanted(request.kinds), int(request.min_severity)
        newest = await center.refresh()
        after = request.after_sequence if request.HasField("after_sequence") else None
        if after is not None and after > newest:
            raise beyond_newest(after, newest)
        last = newest if after is None else after
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + interval
        replayed = False
        woke_for = 0
        while True:
            read = False
            while True:  # everything stored after `last`, a page at a time
                rows = await center.after(last, SCAN_PAGE)
                read = read or bool(rows)
                for row in rows:
                    last = row.sequence
                    if alert_mapping.wanted(row, kinds, min_severity):
                        yield alert_pb2.StreamAlertsResponse(alert=alert_mapping.alert_pb(row))
                if len(rows) < SCAN_PAGE:
                    break
            if not read:  # woken for alerts none of which could be read (never expected): not again
                last = max(last, woke_for)
            if not replayed:
                replayed = True
                yield alert_pb2.StreamAlertsResponse(replay_complete=alert_pb2.AlertReplayComplete(last_sequence=last))
            while True:  # until an alert after `last` is stored, a heartbeat each interval meanwhile
                remaining = next_beat - loop.time()
                if remaining <= 0:
                    beat = common_pb2.Heartbeat()
                    beat.server_time.FromDatetime(center.clock())
                    yield alert_pb2.StreamAlertsResponse(heartbeat=beat)
                    next_beat = loop.time() + interval
                    continue
                try:
                    async with asyncio.timeout(remaining):
                        woke_for = await center.wait_beyond(last)
                except TimeoutError:
                    continue
                break

    async def ListAlertRules(
        self, request: alert_pb2.ListAlertRulesRequest, context: grpc.aio.ServicerContext
    ) -> alert_pb2.ListAlertRulesResponse:
        rules = self._center().rules()
        return alert_pb2.ListAlertRulesResponse(rules=[alert_mapping.record_pb(rule) for rule in rules])

    async def PutAlertRule(
        self, request: alert_pb2.PutAlertRuleRequest, context: grpc.aio.ServicerContext
    ) -> alert_pb2.PutAlertRuleResponse:
        center = self._center()
        if not request.HasField("rule"):
            raise invalid("rule", "required: the rule to create or replace")
        _, table = alert_mapping.rule_of(request.rule)
        principal = principal_of(context)
        rule = await center.put_rule(table, principal)
        stored = next((r for r in center.rules() if r.rule.id == rule.id), None)  # None: deleted meanwhile
        record = stored or SourcedRule(rule, RuleSource.STORED, principal)
        return alert_pb2.PutAlertRuleResponse(rule=alert_mapping.record_pb(record))

    async def DeleteAlertRule(
        self, request: alert_pb2.DeleteAlertRuleRequest, context: grpc.aio.ServicerContext
    ) -> alert_pb2.DeleteAlertRuleResponse:
        center = self._center()
        if not request.rule_id:
            raise invalid("rule_id", "required: the id of a rule made by PutAlertRule (ListAlertRules shows them)")
        await center.delete_rule(request.rule_id)
        return alert_pb2.DeleteAlertRuleResponse()

    async def ListAlertDeadLetters(
        self, request: alert_pb2.ListAlertDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> alert_pb2.ListAlertDeadLettersResponse:
        self._center()
        store = self.store
        if store is None:  # never: the constructor takes the center's store when none is given
            raise not_configured()
        letters = await store.dead_letters(request.sink_id or None, _page_size(request.page_size))
        return alert_pb2.ListAlertDeadLettersResponse(
            dead_letters=[alert_mapping.dead_letter_pb(d, await store.get(d.sequence)) for d in letters]
        )

"""AlertService: the gateway's own alerts (read, streamed), their rules and the webhooks' dead letters."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import alert_pb2

from kite_gateway_client.calls import Connection

Kinds = Sequence[alert_pb2.AlertKind.ValueType]


class AlertMethods(Connection):
    """Every AlertService RPC. Reads are retried, and so is PutAlertRule (it creates or replaces the
    rule of its id: doing it twice is doing it once); DeleteAlertRule is not (a retry of one that
    took effect would answer NOT_FOUND). Each method takes the request message as `request=` instead."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_alert_sequence: int | None = None  # the last alert received (stream_alerts)

    async def list_alerts(
        self,
        after_sequence: int = 0,
        page_size: int = 0,
        *,
        kinds: Kinds = (),
        min_severity: alert_pb2.AlertSeverity.ValueType = alert_pb2.ALERT_SEVERITY_UNSPECIFIED,
        request: alert_pb2.ListAlertsRequest | None = None,
        call_timeout: float | None = None,
    ) -> alert_pb2.ListAlertsResponse:
        """A page of alerts after `after_sequence`, oldest first; the next page is after the
        response's next_after_sequence."""
        request = request or alert_pb2.ListAlertsRequest(
            after_sequence=after_sequence, page_size=page_size, kinds=list(kinds), min_severity=min_severity
        )
        return await self._call(self.alerts.ListAlerts, request, retried=True, call_timeout=call_timeout)

    async def stream_alerts(
        self,
        after_sequence: int | None = None,
        *,
        kinds: Kinds = (),
        min_severity: alert_pb2.AlertSeverity.ValueType = alert_pb2.ALERT_SEVERITY_UNSPECIFIED,
        heartbeat_seconds: int = 5,
        request: alert_pb2.StreamAlertsRequest | None = None,
    ) -> AsyncGenerator[alert_pb2.StreamAlertsResponse, None]:
        """Every message of the alert stream, from after `after_sequence` (default: where this client
        left off, else from now), resumed after transient failures from the last sequence received,
        so no alert is missed or repeated."""
        if request is None:
            request = alert_pb2.StreamAlertsRequest(
                kinds=list(kinds), min_severity=min_severity, heartbeat_interval=Duration(seconds=heartbeat_seconds)
            )
            if after_sequence is not None:
                request.after_sequence = after_sequence
        if request.HasField("after_sequence"):
            self.last_alert_sequence = request.after_sequence

        def resume() -> grpc.aio.UnaryStreamCall[alert_pb2.StreamAlertsRequest, alert_pb2.StreamAlertsResponse]:
            again = alert_pb2.StreamAlertsRequest()
            again.CopyFrom(request)
            if self.last_alert_sequence is not None:
                again.after_sequence = self.last_alert_sequence
            return self.alerts.StreamAlerts(again, metadata=self.metadata)

        messages: AsyncGenerator[alert_pb2.StreamAlertsResponse, None] = self._resumable(resume)
        async with contextlib.aclosing(messages):
            async for message in messages:
                kind = message.WhichOneof("event")
                if kind == "alert":
                    self.last_alert_sequence = message.alert.sequence
                elif kind == "replay_complete":
                    self.last_alert_sequence = max(self.last_alert_sequence or 0, message.replay_complete.last_sequence)
                yield message

    async def list_alert_rules(
        self, *, request: alert_pb2.ListAlertRulesRequest | None = None, call_timeout: float | None = None
    ) -> alert_pb2.ListAlertRulesResponse:
        request = request or alert_pb2.ListAlertRulesRequest()
        return await self._call(self.alerts.ListAlertRules, request, retried=True, call_timeout=call_timeout)

    async def put_alert_rule(
        self,
        rule: alert_pb2.AlertRule | None = None,
        *,
        request: alert_pb2.PutAlertRuleRequest | None = None,
        call_timeout: float | None = None,
    ) -> alert_pb2.PutAlertRuleResponse:
        """Create `rule`, or replace the rule of its id (one of its kind's messages set, e.g.
        `AlertRule(rule_id=..., scope="NSE:INFY", price_cross=PriceCrossRule(level=from_decimal(1600)))`)."""
        request = request or alert_pb2.PutAlertRuleRequest(rule=rule)
        return await self._call(self.alerts.PutAlertRule, request, retried=True, call_timeout=call_timeout)

    async def delete_alert_rule(
        self,
        rule_id: str = "",
        *,
        request: alert_pb2.DeleteAlertRuleRequest | None = None,
        call_timeout: float | None = None,
    ) -> alert_pb2.DeleteAlertRuleResponse:
        request = request or alert_pb2.DeleteAlertRuleRequest(rule_id=rule_id)
        return await self._call(self.alerts.DeleteAlertRule, request, retried=False, call_timeout=call_timeout)

    async def list_alert_dead_letters(
        self,
        sink_id: str = "",
        page_size: int = 0,
        *,
        request: alert_pb2.ListAlertDeadLettersRequest | None = None,
        call_timeout: float | None = None,
    ) -> alert_pb2.ListAlertDeadLettersResponse:
        request = request or alert_pb2.ListAlertDeadLettersRequest(sink_id=sink_id, page_size=page_size)
        return await self._call(self.alerts.ListAlertDeadLetters, request, retried=True, call_timeout=call_timeout)

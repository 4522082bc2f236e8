"""AlertService on a real grpc.aio server over a real AlertCenter and the SQLite alert store: a rule
put by RPC fires and is listed and streamed under its sequence; a stream resumes after a sequence
and refuses one beyond the newest; file rules cannot be changed by RPC; only admins change rules;
dead letters name their sink; a gateway without alerts says how to configure them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.type.decimal_pb2 import Decimal as DecimalPb
from kite_gateway_api.v1 import alert_pb2, alert_pb2_grpc
from kite_gateway_client import AsyncGatewayClient

from kite_gateway.auth import Principal, Principals
from kite_gateway.auth.principals import token_digest
from kite_gateway.core.alerts import AlertCenter, Direction, PriceCrossRule, PriceEvent, Severity, WebhookSink
from kite_gateway.grpc import AlertServicer
from kite_gateway.grpc.registry import API_SERVICES, register
from kite_gateway.storage import AlertStore, SqliteDatabase

T0 = datetime(2026, 12, 3, 9, 15, tzinfo=UTC)
INFY_ABOVE = PriceCrossRule(id="infy-above-1600", scope="NSE:INFY", direction=Direction.ABOVE, level=Decimal("1600"),
                            severity=Severity.CRITICAL)  # fmt: skip
OPS = WebhookSink("ops", "https://hooks.example/ops", "OPS", "secret")
ADMIN = (("authorization", "Bearer admin-token"),)
VIEWER = (("authorization", "Bearer viewer-token"),)
PRINCIPALS = Principals([
    (token_digest("admin-token"), Principal("ops-admin", admin=True)),
    (token_digest("viewer-token"), Principal("viewer", read=frozenset({"ZS0001"}))),
])  # fmt: skip
BELOW_3000 = alert_pb2.PriceCrossRule(direction=alert_pb2.PRICE_CROSS_DIRECTION_BELOW, level=DecimalPb(value="3000"))
TCS_BELOW = alert_pb2.AlertRule(rule_id="tcs-below-3000", scope="NSE:TCS", price_cross=BELOW_3000)
SERVICE = next(s for s in API_SERVICES if s.full_name == "kite_gateway.v1.AlertService")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Served:
    stub: alert_pb2_grpc.AlertServiceStub
    center: AlertCenter
    store: AlertStore
    clock: Clock
    address: str

    async def fire(self, symbol: str, last: str) -> None:
        """A price event through the center, processed and stored before this returns."""
        self.clock.now += timedelta(seconds=1)
        self.center.offer(PriceEvent("NSE", symbol, Decimal(last), Decimal("1500"), self.clock.now))
        await self.center.process_pending()


async def _serve(servicer: AlertServicer) -> tuple[grpc.aio.Server, grpc.aio.Channel, str]:
    server = grpc.aio.server()
    register(server, SERVICE, servicer, PRINCIPALS)
    address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    await server.start()
    return server, grpc.aio.insecure_channel(address), address


@pytest.fixture
async def served(tmp_path: object) -> AsyncIterator[Served]:
    database = SqliteDatabase(tmp_path / "gateway.db")  # type: ignore[operator]
    await database.open()
    store = AlertStore(database)
    clock = Clock()
    center = AlertCenter(store, [INFY_ABOVE], clock=clock, sinks=[OPS])
    await center.start()
    server, channel, address = await _serve(AlertServicer(center, store))
    yield Served(alert_pb2_grpc.AlertServiceStub(channel), center, store, clock, address)
    await channel.close()
    await server.stop(0)
    await database.close()


async def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call  # type: ignore[misc]
    return failed.value.code()


async def test_a_rule_put_by_rpc_fires_and_list_alerts_shows_it_as_sequence_one(served: Served) -> None:
    put = await served.stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=TCS_BELOW), metadata=ADMIN)
    assert put.rule.source == alert_pb2.ALERT_RULE_SOURCE_RPC and put.rule.principal == "ops-admin"
    assert put.rule.rule.price_cross.level.value == "3000" and put.rule.created_at.ToDatetime(UTC) == T0
    await served.fire("TCS", "2999.5")
    listed = await served.stub.ListAlerts(alert_pb2.ListAlertsRequest(), metadata=VIEWER)
    [alert] = listed.alerts
    assert (alert.sequence, alert.rule_id, alert.kind) == (1, "tcs-below-3000", alert_pb2.ALERT_KIND_PRICE_CROSS)
    assert alert.severity == alert_pb2.ALERT_SEVERITY_WARNING and alert.scope == "NSE:TCS"
    assert alert.fields["last_price"] == "2999.5" and alert.time.ToDatetime(UTC) == served.clock.now
    assert (listed.next_after_sequence, listed.newest_sequence) == (1, 1)


async def test_list_alerts_pages_after_a_sequence_and_filters_by_kind_and_severity(served: Served) -> None:
    await served.stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=TCS_BELOW), metadata=ADMIN)
    await served.fire("TCS", "2999")  # 1: warning
    await served.fire("INFY", "1601")  # 2: critical
    await served.fire("TCS", "3001")  # re-arms
    await served.fire("TCS", "2998")  # 3: warning
    page = await served.stub.ListAlerts(alert_pb2.ListAlertsRequest(page_size=2), metadata=VIEWER)
    assert [a.sequence for a in page.alerts] == [1, 2] and page.next_after_sequence == 2
    rest = await served.stub.ListAlerts(alert_pb2.ListAlertsRequest(after_sequence=2), metadata=VIEWER)
    assert [a.sequence for a in rest.alerts] == [3]
    critical = alert_pb2.ListAlertsRequest(min_severity=alert_pb2.ALERT_SEVERITY_CRITICAL)
    assert [a.rule_id for a in (await served.stub.ListAlerts(critical, metadata=VIEWER)).alerts] == [INFY_ABOVE.id]
    other_kind = alert_pb2.ListAlertsRequest(kinds=[alert_pb2.ALERT_KIND_TICKER])
    nothing = await served.stub.ListAlerts(other_kind, metadata=VIEWER)
    assert list(nothing.alerts) == [] and nothing.next_after_sequence == 3  # looked at all, kept none


async def test_a_stream_from_zero_replays_then_sees_a_live_alert_and_a_resumed_one_only_later_ones(
    served: Served,
) -> None:
    await served.fire("INFY", "1601")
    stream = served.stub.StreamAlerts(alert_pb2.StreamAlertsRequest(after_sequence=0), metadata=VIEWER)
    first = await stream.read()
    assert first.WhichOneof("event") == "alert" and first.alert.sequence == 1
    done = await stream.read()
    assert done.WhichOneof("event") == "replay_complete" and done.replay_complete.last_sequence == 1
    await served.stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=TCS_BELOW), metadata=ADMIN)
    await served.fire("TCS", "2999")
    live = await stream.read()
    assert live.alert.sequence == 2 and live.alert.rule_id == "tcs-below-3000"
    stream.cancel()
    resumed = served.stub.StreamAlerts(alert_pb2.StreamAlertsRequest(after_sequence=1), metadata=VIEWER)
    again = await resumed.read()
    assert again.alert.sequence == 2
    assert (await resumed.read()).replay_complete.last_sequence == 2
    resumed.cancel()


async def test_a_stream_without_a_sequence_starts_from_now(served: Served) -> None:
    await served.fire("INFY", "1601")
    stream = served.stub.StreamAlerts(alert_pb2.StreamAlertsRequest(), metadata=VIEWER)
    assert (await stream.read()).replay_complete.last_sequence == 1
    stream.cancel()


async def test_a_stream_or_list_after_a_sequence_beyond_the_newest_is_out_of_range(served: Served) -> None:
    await served.fire("INFY", "1601")
    stream = served.stub.StreamAlerts(alert_pb2.StreamAlertsRequest(after_sequence=2), metadata=VIEWER)
    assert await _code(stream.read()) is grpc.StatusCode.OUT_OF_RANGE
    listing = served.stub.ListAlerts(alert_pb2.ListAlertsRequest(after_sequence=5), metadata=VIEWER)
    assert await _code(listing) is grpc.StatusCode.OUT_OF_RANGE


async def test_a_quiet_stream_sends_a_heartbeat_with_the_centers_clock(served: Served) -> None:
    request = alert_pb2.StreamAlertsRequest(heartbeat_interval=Duration(seconds=1))
    stream = served.stub.StreamAlerts(request, metadata=VIEWER)
    assert (await stream.read()).WhichOneof("event") == "replay_complete"
    beat = await stream.read()
    assert beat.WhichOneof("event") == "heartbeat" and beat.heartbeat.server_time.ToDatetime(UTC) == T0
    stream.cancel()


async def test_a_heartbeat_interval_over_a_minute_is_invalid_argument(served: Served) -> None:
    request = alert_pb2.StreamAlertsRequest(heartbeat_interval=Duration(seconds=61))
    assert await _code(served.stub.StreamAlerts(request, metadata=VIEWER).read()) is grpc.StatusCode.INVALID_ARGUMENT


async def test_list_alert_rules_shows_the_file_rule_then_the_rpc_rule_with_their_sources(served: Served) -> None:
    await served.stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=TCS_BELOW), metadata=ADMIN)
    rules = (await served.stub.ListAlertRules(alert_pb2.ListAlertRulesRequest(), metadata=VIEWER)).rules
    assert [(r.rule.rule_id, r.source) for r in rules] == [
        (INFY_ABOVE.id, alert_pb2.ALERT_RULE_SOURCE_FILE), ("tcs-below-3000", alert_pb2.ALERT_RULE_SOURCE_RPC),
    ]  # fmt: skip
    assert rules[0].rule.severity == alert_pb2.ALERT_SEVERITY_CRITICAL and not rules[0].HasField("created_at")


async def test_deleting_or_replacing_a_file_rule_is_failed_precondition(served: Served) -> None:
    delete = served.stub.DeleteAlertRule(alert_pb2.DeleteAlertRuleRequest(rule_id=INFY_ABOVE.id), metadata=ADMIN)
    assert await _code(delete) is grpc.StatusCode.FAILED_PRECONDITION
    shadow = alert_pb2.AlertRule()
    shadow.CopyFrom(TCS_BELOW)
    shadow.rule_id = INFY_ABOVE.id
    put = served.stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=shadow), metadata=ADMIN)
    assert await _code(put) is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_deleted_rpc_rule_is_gone_and_deleting_it_again_is_not_found(served: Served) -> None:
    await served.stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=TCS_BELOW), metadata=ADMIN)
    await served.stub.DeleteAlertRule(alert_pb2.DeleteAlertRuleRequest(rule_id="tcs-below-3000"), metadata=ADMIN)
    rules = (await served.stub.ListAlertRules(alert_pb2.ListAlertRulesRequest(), metadata=VIEWER)).rules
    assert [r.rule.rule_id for r in rules] == [INFY_ABOVE.id]
    again = served.stub.DeleteAlertRule(alert_pb2.DeleteAlertRuleRequest(rule_id="tcs-below-3000"), metadata=ADMIN)
    assert await _code(again) is grpc.StatusCode.NOT_FOUND


async def test_a_non_admin_may_read_alerts_but_not_put_or_delete_rules(served: Served) -> None:
    put = served.stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=TCS_BELOW), metadata=VIEWER)
    assert await _code(put) is grpc.StatusCode.PERMISSION_DENIED
    delete = served.stub.DeleteAlertRule(alert_pb2.DeleteAlertRuleRequest(rule_id="x"), metadata=VIEWER)
    assert await _code(delete) is grpc.StatusCode.PERMISSION_DENIED
    assert served.center.rules()[-1].rule.id == INFY_ABOVE.id  # nothing was put
    unsigned = served.stub.ListAlerts(alert_pb2.ListAlertsRequest())
    assert await _code(unsigned) is grpc.StatusCode.UNAUTHENTICATED


async def test_a_bad_rule_is_invalid_argument_naming_the_proto_field(served: Served) -> None:
    bad = alert_pb2.AlertRule(
        rule_id="m", margin_utilisation=alert_pb2.MarginUtilisationRule(ceiling=DecimalPb(value="2"))
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await served.stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=bad), metadata=ADMIN)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith("rule.margin_utilisation.ceiling: ")


async def test_dead_letters_name_the_sink_the_attempts_and_the_last_error(served: Served) -> None:
    await served.fire("INFY", "1601")
    await served.store.mark_dead("ops", 1, "HTTP 503 from hooks.example", served.clock.now)
    letters = await served.stub.ListAlertDeadLetters(alert_pb2.ListAlertDeadLettersRequest(), metadata=VIEWER)
    [letter] = letters.dead_letters
    assert (letter.sink_id, letter.sequence, letter.attempts) == ("ops", 1, 1)
    assert letter.last_error == "HTTP 503 from hooks.example" and letter.alert.rule_id == INFY_ABOVE.id
    other = alert_pb2.ListAlertDeadLettersRequest(sink_id="pager")
    assert list((await served.stub.ListAlertDeadLetters(other, metadata=VIEWER)).dead_letters) == []


async def test_without_an_alert_center_every_method_is_failed_precondition_naming_the_setting() -> None:
    server, channel, _ = await _serve(AlertServicer(None))
    stub = alert_pb2_grpc.AlertServiceStub(channel)
    try:
        calls = [
            stub.ListAlerts(alert_pb2.ListAlertsRequest(), metadata=ADMIN),
            stub.StreamAlerts(alert_pb2.StreamAlertsRequest(), metadata=ADMIN).read(),
            stub.ListAlertRules(alert_pb2.ListAlertRulesRequest(), metadata=ADMIN),
            stub.PutAlertRule(alert_pb2.PutAlertRuleRequest(rule=TCS_BELOW), metadata=ADMIN),
            stub.DeleteAlertRule(alert_pb2.DeleteAlertRuleRequest(rule_id="x"), metadata=ADMIN),
            stub.ListAlertDeadLetters(alert_pb2.ListAlertDeadLettersRequest(), metadata=ADMIN),
        ]
        assert len(calls) == len(SERVICE.descriptor.methods)
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert "no alerts configured: set KITE_GATEWAY_ALERTS_FILE" in (refused.value.details() or "")
    finally:
        await channel.close()
        await server.stop(0)


async def test_the_client_puts_a_rule_lists_it_and_its_stream_remembers_the_last_sequence(served: Served) -> None:
    async with AsyncGatewayClient(served.address, token="admin-token") as client:
        put = await client.put_alert_rule(TCS_BELOW)
        assert put.rule.rule.rule_id == "tcs-below-3000"
        await served.fire("TCS", "2999")
        assert [a.sequence for a in (await client.list_alerts()).alerts] == [1]
        stream = client.stream_alerts(after_sequence=0)
        assert (await anext(stream)).alert.sequence == 1
        assert (await anext(stream)).WhichOneof("event") == "replay_complete"
        await stream.aclose()
        assert client.last_alert_sequence == 1
        await client.delete_alert_rule("tcs-below-3000")
        assert [r.rule.rule_id for r in (await client.list_alert_rules()).rules] == [INFY_ABOVE.id]

"""AlertService's rule messages and the alerts file's tables: every kind goes proto -> table -> rule ->
proto unchanged, through the alerts file's own validator; what it refuses is INVALID_ARGUMENT naming
the proto field; stored alerts and dead letters map with their sequence, kind and severity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.type.decimal_pb2 import Decimal as DecimalPb
from kite_gateway_api.v1 import alert_pb2

from kite_gateway.core.alerts import AlertKind, rule_from_table
from kite_gateway.errors import GatewayError, Status
from kite_gateway.grpc import alert_mapping
from kite_gateway.storage import Delivery, StoredAlert

AT = datetime(2026, 12, 3, 9, 15, tzinfo=UTC)


def d(text: str) -> DecimalPb:
    return DecimalPb(value=text)


def rule(rule_id: str, scope: str = "*", **definition: object) -> alert_pb2.AlertRule:
    return alert_pb2.AlertRule(rule_id=rule_id, scope=scope, enabled=True, severity=alert_pb2.ALERT_SEVERITY_CRITICAL,
                               **definition)  # type: ignore[arg-type]  # fmt: skip


# One rule of every kind, each setting spelled out (as rule_pb gives them back).
EVERY_KIND = [
    rule("infy-above", "NSE:INFY", price_cross=alert_pb2.PriceCrossRule(
        direction=alert_pb2.PRICE_CROSS_DIRECTION_BELOW, level=d("1600.5"))),
    rule("infy-3pc", "NSE:INFY", percent_move=alert_pb2.PercentMoveRule(
        percent=d("3"), reference=alert_pb2.PERCENT_MOVE_REFERENCE_FIRST,
        direction=alert_pb2.PERCENT_MOVE_DIRECTION_DOWN)),
    rule("rejections", "ZS0001", order_status=alert_pb2.OrderStatusRule(
        statuses=[alert_pb2.ALERT_ORDER_STATUS_REJECTED, alert_pb2.ALERT_ORDER_STATUS_COMPLETE])),
    rule("duplicates", duplicate=alert_pb2.DuplicateRule()),
    rule("momentum-dd", "momentum", pnl_drawdown=alert_pb2.PnlDrawdownRule(
        pnl_of=alert_pb2.PNL_DRAWDOWN_OF_STRATEGY, amount=d("5000"))),
    rule("margin-90", margin_utilisation=alert_pb2.MarginUtilisationRule(ceiling=d("0.9"))),
    rule("session", session=alert_pb2.SessionRule(expiring_within_minutes=30, needs_login=False)),
    rule("ticker", ticker=alert_pb2.TickerRule(down=True, stale_seconds=20)),
    rule("refusals", risk_refusal_rate=alert_pb2.RiskRefusalRateRule(max_refusals=0, window_seconds=60)),
    rule("exits", automatic_exit=alert_pb2.AutomaticExitRule()),
]  # fmt: skip


def test_the_rule_oneof_has_one_member_per_rule_kind() -> None:
    oneof = alert_pb2.AlertRule.DESCRIPTOR.oneofs_by_name["definition"]
    assert [field.name for field in oneof.fields] == list(alert_mapping.KIND_FIELDS.values())
    assert set(alert_mapping.KIND_FIELDS) == set(AlertKind)
    assert {m.WhichOneof("definition") for m in EVERY_KIND} == set(alert_mapping.KIND_FIELDS.values())


@pytest.mark.parametrize("message", EVERY_KIND, ids=lambda m: m.WhichOneof("definition"))
def test_every_kind_round_trips_proto_to_table_to_rule_to_proto(message: alert_pb2.AlertRule) -> None:
    parsed, table = alert_mapping.rule_of(message)
    assert rule_from_table(table, "again") == parsed  # the table is what the alerts file would hold
    assert alert_mapping.rule_pb(parsed) == message


def test_a_rule_of_defaults_gets_the_alerts_files_defaults_spelled_out() -> None:
    parsed, table = alert_mapping.rule_of(alert_pb2.AlertRule(rule_id="t", ticker=alert_pb2.TickerRule()))
    assert table == {"id": "t", "kind": "TICKER"}
    back = alert_mapping.rule_pb(parsed)
    assert (back.scope, back.enabled, back.severity) == ("*", True, alert_pb2.ALERT_SEVERITY_WARNING)
    assert back.ticker.down and not back.ticker.HasField("stale_seconds")


def test_decimals_reach_the_table_as_their_text_not_a_float() -> None:
    _, table = alert_mapping.rule_of(EVERY_KIND[0])
    assert table["level"] == "1600.5" and isinstance(table["level"], str)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (rule("x", "NSE:INFY", price_cross=alert_pb2.PriceCrossRule()), "rule.price_cross.level"),
        (rule("x", "NSE:INFY", price_cross=alert_pb2.PriceCrossRule(level=d("0"))), "rule.price_cross.level"),
        (rule("x", "INFY", price_cross=alert_pb2.PriceCrossRule(level=d("1"))), "rule.scope"),
        (rule("", duplicate=alert_pb2.DuplicateRule()), "rule.rule_id"),
        (rule("x", margin_utilisation=alert_pb2.MarginUtilisationRule(ceiling=d("1.5"))),
         "rule.margin_utilisation.ceiling"),
        (rule("x", pnl_drawdown=alert_pb2.PnlDrawdownRule(pnl_of=alert_pb2.PNL_DRAWDOWN_OF_STRATEGY, amount=d("1"))),
         "rule.scope"),
        (rule("x", session=alert_pb2.SessionRule(expiring_within_minutes=0)), "rule.session.expiring_within_minutes"),
        (rule("x", session=alert_pb2.SessionRule(needs_login=False)), "rule.session.expiring_within_minutes"),
        (rule("x", ticker=alert_pb2.TickerRule(down=False)), "rule.ticker.stale_seconds"),
        (rule("x", risk_refusal_rate=alert_pb2.RiskRefusalRateRule(window_seconds=60)),
         "rule.risk_refusal_rate.max_refusals"),
        (rule("x", risk_refusal_rate=alert_pb2.RiskRefusalRateRule(max_refusals=3)),
         "rule.risk_refusal_rate.window_seconds"),
        (alert_pb2.AlertRule(rule_id="x"), "rule.definition"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)  # fmt: skip
def test_a_rule_the_alerts_files_validator_refuses_is_invalid_argument_naming_the_proto_field(
    message: alert_pb2.AlertRule, field: str
) -> None:
    with pytest.raises(GatewayError) as refused:
        alert_mapping.rule_of(message)
    assert refused.value.code is Status.INVALID_ARGUMENT
    assert [f for f, _ in refused.value.field_violations] == [field]
    assert refused.value.message.startswith(f"{field}: ")


def test_a_stored_alert_maps_with_its_sequence_kind_severity_and_fields() -> None:
    stored = StoredAlert(7, "infy-above", "PRICE_CROSS", "critical", "NSE:INFY", "INFY above 1600", "sell?",
                         {"last_price": "1600.05"}, AT)  # fmt: skip
    message = alert_mapping.alert_pb(stored)
    assert (message.sequence, message.kind, message.severity) == (
        7, alert_pb2.ALERT_KIND_PRICE_CROSS, alert_pb2.ALERT_SEVERITY_CRITICAL,
    )  # fmt: skip
    assert dict(message.fields) == {"last_price": "1600.05"} and message.time.ToDatetime(UTC) == AT


def test_an_alert_of_a_kind_or_severity_this_version_does_not_know_maps_as_unspecified() -> None:
    stored = StoredAlert(1, "r", "FUTURE_KIND", "urgent", "*", "t", "m", {}, AT)
    message = alert_mapping.alert_pb(stored)
    assert (message.kind, message.severity) == (0, 0)


def test_the_filters_keep_the_kinds_asked_for_at_or_above_the_severity() -> None:
    warning = StoredAlert(1, "r", "TICKER", "warning", "*", "t", "m", {}, AT)
    kinds = alert_mapping.kinds_wanted([alert_pb2.ALERT_KIND_TICKER])
    assert alert_mapping.wanted(warning, kinds, alert_pb2.ALERT_SEVERITY_WARNING)
    assert not alert_mapping.wanted(warning, kinds, alert_pb2.ALERT_SEVERITY_CRITICAL)
    assert not alert_mapping.wanted(warning, alert_mapping.kinds_wanted([alert_pb2.ALERT_KIND_SESSION]), 0)
    assert alert_mapping.wanted(warning, frozenset(), 0)


def test_a_dead_letter_carries_its_sink_attempts_last_error_and_alert() -> None:
    delivery = Delivery("ops", 3, "dead", 8, AT, "HTTP 503", AT)
    stored = StoredAlert(3, "r", "TICKER", "warning", "*", "t", "m", {}, AT)
    message = alert_mapping.dead_letter_pb(delivery, stored)
    assert (message.sink_id, message.sequence, message.attempts, message.last_error) == ("ops", 3, 8, "HTTP 503")
    assert message.alert.sequence == 3 and not alert_mapping.dead_letter_pb(delivery, None).HasField("alert")

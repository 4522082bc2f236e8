"""AlertService's messages to and from the alerts core (kite_gateway/core/alerts).

A rule arrives as typed fields (one message per kind) and is turned into the [[alerts.rules]]-shaped
table the alerts file holds, which `rule_from_table` parses: the file and the API share one
validator. Its complaint names a table key; `rule_of` answers INVALID_ARGUMENT naming the proto
field of that key instead (`rule.price_cross.level`, not `level`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from kite_gateway_api.v1 import alert_pb2

from kite_gateway.core.alerts import (
    AlertConfigError,
    AlertKind,
    AlertRule,
    AutomaticExitRule,
    DuplicateRule,
    MarginUtilisationRule,
    OrderStatusRule,
    PercentMoveRule,
    PnlDrawdownRule,
    PriceCrossRule,
    RiskRefusalRateRule,
    RuleSource,
    SessionRule,
    SourcedRule,
    TickerRule,
    rule_from_table,
)
from kite_gateway.errors import invalid
from kite_gateway.grpc.mapping import decimal_pb, from_decimal_pb
from kite_gateway.storage import Delivery, StoredAlert

# The oneof's member for each kind (the rule's settings), in the proto's order.
KIND_FIELDS: dict[AlertKind, str] = {
    AlertKind.PRICE_CROSS: "price_cross",
    AlertKind.PERCENT_MOVE: "percent_move",
    AlertKind.ORDER_STATUS: "order_status",
    AlertKind.DUPLICATE_DETECTED: "duplicate",
    AlertKind.PNL_DRAWDOWN: "pnl_drawdown",
    AlertKind.MARGIN_UTILISATION: "margin_utilisation",
    AlertKind.SESSION: "session",
    AlertKind.TICKER: "ticker",
    AlertKind.RISK_REFUSAL_RATE: "risk_refusal_rate",
    AlertKind.AUTOMATIC_EXIT: "automatic_exit",
}
_KIND_OF_FIELD = {name: kind for kind, name in KIND_FIELDS.items()}
# The table's keys every rule has, as the proto fields that carry them.
_COMMON_FIELDS = {"id": "rule_id", "scope": "scope", "enabled": "enabled", "severity": "severity", "kind": "definition"}
_DECIMALS = {"level", "percent", "amount", "ceiling"}
# Enum fields of the kinds' messages: (the proto enum, its value prefix); their texts are the table's.
_ENUMS: dict[str, tuple[Any, str]] = {
    "PriceCrossRule.direction": (alert_pb2.PriceCrossDirection, "PRICE_CROSS_DIRECTION_"),
    "PercentMoveRule.reference": (alert_pb2.PercentMoveReference, "PERCENT_MOVE_REFERENCE_"),
    "PercentMoveRule.direction": (alert_pb2.PercentMoveDirection, "PERCENT_MOVE_DIRECTION_"),
    "PnlDrawdownRule.pnl_of": (alert_pb2.PnlDrawdownOf, "PNL_DRAWDOWN_OF_"),
}


def kind_pb(kind: str) -> alert_pb2.AlertKind.ValueType:
    """A kind's text (AlertKind's value, as stored) as the proto enum; UNSPECIFIED for one not known."""
    return alert_pb2.AlertKind.Value(f"ALERT_KIND_{kind}") if kind in AlertKind.__members__ else 0  # type: ignore[return-value]


def severity_pb(severity: str) -> alert_pb2.AlertSeverity.ValueType:
    """A severity's text (Severity's value, as stored) as the proto enum (its number is its rank)."""
    name = f"ALERT_SEVERITY_{severity.upper()}"
    return alert_pb2.AlertSeverity.Value(name) if name in alert_pb2.AlertSeverity.DESCRIPTOR.values_by_name else 0  # type: ignore[return-value]


def kinds_wanted(kinds: Collection[int]) -> frozenset[str]:
    """The kind texts of a request's `kinds` filter (empty: every kind)."""
    return frozenset(alert_pb2.AlertKind.Name(k).removeprefix("ALERT_KIND_") for k in kinds if k)  # type: ignore[arg-type]


def wanted(alert: StoredAlert, kinds: frozenset[str], min_severity: int) -> bool:
    """Whether an alert passes a request's filters."""
    return (not kinds or alert.kind in kinds) and severity_pb(alert.severity) >= min_severity


def alert_pb(alert: StoredAlert) -> alert_pb2.Alert:
    message = alert_pb2.Alert(
        sequence=alert.sequence,
        rule_id=alert.rule_id,
        kind=kind_pb(alert.kind),
        severity=severity_pb(alert.severity),
        scope=alert.scope,
        title=alert.title,
        message=alert.message,
        fields={key: str(value) for key, value in alert.fields.items()},
    )
    message.time.FromDatetime(alert.at)
    return message


def dead_letter_pb(delivery: Delivery, alert: StoredAlert | None) -> alert_pb2.AlertDeadLetter:
    message = alert_pb2.AlertDeadLetter(
        sink_id=delivery.sink_id, sequence=delivery.sequence, attempts=delivery.attempts,
        last_error=delivery.last_error,
    )  # fmt: skip
    message.time.FromDatetime(delivery.updated_at)
    if alert is not None:
        message.alert.CopyFrom(alert_pb(alert))
    return message


# --- rules: proto to table ------------------------------------------------------------------------


def _settings_table(settings: Any, path: str) -> dict[str, Any]:
    """A kind's message as the table's keys: unset optional fields and UNSPECIFIED enums left out (the
    file's defaults apply), Decimals as their text, statuses as their names."""
    table: dict[str, Any] = {}
    name = settings.DESCRIPTOR.name
    for field in settings.DESCRIPTOR.fields:
        key, here = field.name, f"{path}.{field.name}"
        if key == "statuses":
            if settings.statuses:
                table[key] = [alert_pb2.AlertOrderStatus.Name(s).removeprefix("ALERT_ORDER_STATUS_")
                              for s in settings.statuses]  # fmt: skip
        elif key in _DECIMALS:
            if settings.HasField(key):
                table[key] = str(from_decimal_pb(getattr(settings, key), here))
        elif f"{name}.{key}" in _ENUMS:
            enum, prefix = _ENUMS[f"{name}.{key}"]
            value = getattr(settings, key)
            if value:
                table[key] = enum.Name(value).removeprefix(prefix).lower()
        elif field.has_presence:
            if settings.HasField(key):
                table[key] = getattr(settings, key)
        else:
            table[key] = getattr(settings, key)
    return table


def rule_table(message: alert_pb2.AlertRule, path: str = "rule") -> dict[str, Any]:
    """The rule as an [[alerts.rules]] table (what rule_from_table and AlertCenter.put_rule take)."""
    member = message.WhichOneof("definition")
    if member is None:
        raise invalid(f"{path}.definition", f"required: set one of {', '.join(KIND_FIELDS.values())}")
    table: dict[str, Any] = {"id": message.rule_id, "kind": _KIND_OF_FIELD[member].value}
    if message.scope:
        table["scope"] = message.scope
    if message.HasField("enabled"):
        table["enabled"] = message.enabled
    if message.severity:
        table["severity"] = alert_pb2.AlertSeverity.Name(message.severity).removeprefix("ALERT_SEVERITY_").lower()
    table.update(_settings_table(getattr(message, member), f"{path}.{member}"))
    return table


def _field_of(problem: str, member: str, path: str) -> str:
    """The proto field a rule_from_table complaint is about: it starts with the table key ("level
    must be ...", "set stale_seconds or down = true")."""
    words = problem.split()
    key = (words[1] if words[:1] == ["set"] and len(words) > 1 else words[0] if words else "").rstrip(":,")
    if key in _COMMON_FIELDS:
        return f"{path}.{_COMMON_FIELDS[key]}"
    settings = alert_pb2.AlertRule.DESCRIPTOR.fields_by_name[member].message_type
    return f"{path}.{member}.{key}" if settings is not None and key in settings.fields_by_name else path


def rule_of(message: alert_pb2.AlertRule, path: str = "rule") -> tuple[AlertRule, dict[str, Any]]:
    """The core rule of a proto rule and the table it was parsed from; INVALID_ARGUMENT naming the
    proto field when the alerts file's validator refuses it."""
    table = rule_table(message, path)
    member = message.WhichOneof("definition") or ""
    try:
        return rule_from_table(table, path), table
    except AlertConfigError as exc:
        text = str(exc)
        for prefix in (f"{path} (id {message.rule_id!r}): ", f"{path}: "):
            if text.startswith(prefix):
                text = text[len(prefix) :]
                break
        raise invalid(_field_of(text, member, path), text) from None


# --- rules: core to proto -------------------------------------------------------------------------


def _enum_pb(settings_name: str, key: str, text: str) -> Any:
    enum, prefix = _ENUMS[f"{settings_name}.{key}"]
    return enum.Value(f"{prefix}{text.upper()}")


def _settings_pb(rule: AlertRule) -> Any:
    match rule:
        case PriceCrossRule():
            return alert_pb2.PriceCrossRule(
                direction=_enum_pb("PriceCrossRule", "direction", rule.direction.value), level=decimal_pb(rule.level)
            )
        case PercentMoveRule():
            return alert_pb2.PercentMoveRule(
                percent=decimal_pb(rule.percent),
                reference=_enum_pb("PercentMoveRule", "reference", rule.reference.value),
                direction=_enum_pb("PercentMoveRule", "direction", rule.direction.value),
            )
        case OrderStatusRule():
            numbers = sorted(alert_pb2.AlertOrderStatus.Value(f"ALERT_ORDER_STATUS_{s.value}") for s in rule.statuses)
            return alert_pb2.OrderStatusRule(statuses=numbers)
        case DuplicateRule():
            return alert_pb2.DuplicateRule()
        case AutomaticExitRule():
            return alert_pb2.AutomaticExitRule()
        case PnlDrawdownRule():
            return alert_pb2.PnlDrawdownRule(
                pnl_of=_enum_pb("PnlDrawdownRule", "pnl_of", rule.pnl_of.value), amount=decimal_pb(rule.amount)
            )
        case MarginUtilisationRule():
            return alert_pb2.MarginUtilisationRule(ceiling=decimal_pb(rule.ceiling))
        case SessionRule():
            return alert_pb2.SessionRule(expiring_within_minutes=rule.expiring_within_minutes,
                                         needs_login=rule.needs_login)  # fmt: skip
        case TickerRule():
            return alert_pb2.TickerRule(down=rule.down, stale_seconds=rule.stale_seconds)
        case RiskRefusalRateRule():
            return alert_pb2.RiskRefusalRateRule(max_refusals=rule.max_refusals, window_seconds=rule.window_seconds)
    raise TypeError(f"no proto for alert rule kind {rule.kind}")


def rule_pb(rule: AlertRule) -> alert_pb2.AlertRule:
    """A core rule as the proto, every default spelled out."""
    message = alert_pb2.AlertRule(
        rule_id=rule.id, scope=rule.scope, enabled=rule.enabled, severity=severity_pb(rule.severity.value)
    )
    getattr(message, KIND_FIELDS[rule.kind]).CopyFrom(_settings_pb(rule))
    return message


def record_pb(sourced: SourcedRule) -> alert_pb2.AlertRuleRecord:
    message = alert_pb2.AlertRuleRecord(
        rule=rule_pb(sourced.rule),
        source=alert_pb2.ALERT_RULE_SOURCE_FILE
        if sourced.source is RuleSource.FILE
        else alert_pb2.ALERT_RULE_SOURCE_RPC,
        principal=sourced.principal,
    )
    if sourced.created_at is not None:
        message.created_at.FromDatetime(sourced.created_at)
    if sourced.updated_at is not None:
        message.updated_at.FromDatetime(sourced.updated_at)
    return message

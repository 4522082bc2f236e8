"""Alert rules: what a person wants to be told about, loaded from KITE_GATEWAY_ALERTS_FILE.

    [[alerts.rules]]
    id = "infy-above-1600"
    kind = "PRICE_CROSS"
    scope = "NSE:INFY"                 # instrument rules: EXCHANGE:TRADINGSYMBOL
    direction = "above"                # or "below"
    level = "1600"

    [[alerts.rules]]
    id = "infy-3pc"
    kind = "PERCENT_MOVE"
    scope = "NSE:INFY"
    percent = "3"
    reference = "close"                # the previous close in the quote, or "first": the first price seen
    direction = "either"               # "up", "down" or "either"

    [[alerts.rules]]
    id = "rejections"
    kind = "ORDER_STATUS"
    scope = "ZS0001"                   # account rules: an account id, or "*" for every account
    statuses = ["REJECTED", "PARTIALLY_FILLED", "FILLED"]   # FILLED is Kite's COMPLETE

    [[alerts.rules]]
    id = "duplicates"
    kind = "DUPLICATE_DETECTED"
    scope = "*"
    severity = "critical"              # info, warning (the default) or critical

    [[alerts.rules]]
    id = "momentum-drawdown"
    kind = "PNL_DRAWDOWN"
    scope = "momentum"
    pnl_of = "strategy"                # or "account" (the default)
    amount = "5000"                    # fall from the day's peak P&L (the peak starts at 0)

    [[alerts.rules]]
    id = "margin-90"
    kind = "MARGIN_UTILISATION"
    scope = "*"
    ceiling = "0.9"                    # used / total margin

    [[alerts.rules]]
    id = "session"
    kind = "SESSION"
    scope = "*"
    expiring_within_minutes = 30       # optional; and/or
    needs_login = true                 # the alert carries the login URL given in the event

    [[alerts.rules]]
    id = "ticker"
    kind = "TICKER"
    scope = "*"
    down = true
    stale_seconds = 20                 # optional: connected but no tick for this long

    [[alerts.rules]]
    id = "refusals"
    kind = "RISK_REFUSAL_RATE"
    scope = "*"
    max_refusals = 5                   # more than 5 ...
    window_seconds = 60                # ... within 60 seconds: unusual trading activity

    [[alerts.rules]]
    id = "exits"
    kind = "AUTOMATIC_EXIT"            # an automatic exit fired (risk file [exits]): once per exit
    scope = "*"                        # an account id, a strategy id, or every one
    severity = "critical"

Every rule has `enabled` (default true). Firing is edge-triggered so nobody is paged in a loop: a
rule fires ONCE when its condition starts to hold for a key (an instrument, account, strategy,
order) and is then disarmed for that key; it re-arms only when the condition clears (the price back
on the other side of the level, the move back under the percent, the P&L back above its floor, the
utilisation under the ceiling, the session active again or renewed, the ticker connected or ticking
again, the refusals in the window back to at most N). Order and duplicate events are one-off: each
(order, status) and each duplicate order fires once and never re-arms. The engine (engine.py) keeps
the arming state.

A rule starts armed, so the first event already past its threshold fires (a price first seen above
the level, a session first seen expiring). PERCENT_MOVE's `reference = "first"` is the first price
the engine saw for the instrument; it is part of the engine's snapshot, so a restart keeps it (it is
never reset: the day's roll-over is the caller's, by a fresh engine). PNL_DRAWDOWN's peak is the
highest P&L seen, starting at zero as the day's P&L does.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, TypeVar

ALERTS_FILE_ENV = "KITE_GATEWAY_ALERTS_FILE"
ANY = "*"

E = TypeVar("E", bound=StrEnum)


class AlertConfigError(ValueError):
    """The alerts file is invalid; the message names the file, the rule and the key (the gateway
    refuses to start with it)."""


class AlertKind(StrEnum):
    PRICE_CROSS = "PRICE_CROSS"
    PERCENT_MOVE = "PERCENT_MOVE"
    ORDER_STATUS = "ORDER_STATUS"
    DUPLICATE_DETECTED = "DUPLICATE_DETECTED"
    PNL_DRAWDOWN = "PNL_DRAWDOWN"
    MARGIN_UTILISATION = "MARGIN_UTILISATION"
    SESSION = "SESSION"
    TICKER = "TICKER"
    RISK_REFUSAL_RATE = "RISK_REFUSAL_RATE"
    AUTOMATIC_EXIT = "AUTOMATIC_EXIT"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Direction(StrEnum):
    ABOVE = "above"
    BELOW = "below"


class MoveDirection(StrEnum):
    UP = "up"
    DOWN = "down"
    EITHER = "either"


class Reference(StrEnum):
    CLOSE = "close"  # the previous session's close, as the quote carries it
    FIRST = "first"  # the first price the engine saw for the instrument (kept across a restore)


class PnlOf(StrEnum):
    ACCOUNT = "account"
    STRATEGY = "strategy"


class OrderAlertStatus(StrEnum):
    REJECTED = "REJECTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"  # open with 0 < filled < quantity
    COMPLETE = "COMPLETE"  # "FILLED" in the file


@dataclass(frozen=True)
class AlertRule:
    """What every rule has. `scope` is an instrument (EXCHANGE:TRADINGSYMBOL), an account id, a
    strategy id (PNL_DRAWDOWN with pnl_of strategy), or "*" for every account."""

    kind: ClassVar[AlertKind]
    id: str
    scope: str
    enabled: bool = True
    severity: Severity = Severity.WARNING

    def covers(self, scope_id: str) -> bool:
        return self.scope == ANY or self.scope == scope_id


@dataclass(frozen=True)
class PriceCrossRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.PRICE_CROSS
    direction: Direction = Direction.ABOVE
    level: Decimal = Decimal(0)

    def holds(self, price: Decimal) -> bool:
        return price >= self.level if self.direction is Direction.ABOVE else price <= self.level


@dataclass(frozen=True)
class PercentMoveRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.PERCENT_MOVE
    percent: Decimal = Decimal(0)
    reference: Reference = Reference.CLOSE
    direction: MoveDirection = MoveDirection.EITHER

    def move(self, price: Decimal, reference: Decimal) -> Decimal:
        """The move from the reference in percent (signed)."""
        return (price - reference) * 100 / reference

    def holds(self, move: Decimal) -> bool:
        if self.direction is MoveDirection.UP:
            return move >= self.percent
        if self.direction is MoveDirection.DOWN:
            return -move >= self.percent
        return abs(move) >= self.percent


@dataclass(frozen=True)
class OrderStatusRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.ORDER_STATUS
    statuses: frozenset[OrderAlertStatus] = frozenset({OrderAlertStatus.REJECTED})


@dataclass(frozen=True)
class DuplicateRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.DUPLICATE_DETECTED


@dataclass(frozen=True)
class PnlDrawdownRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.PNL_DRAWDOWN
    pnl_of: PnlOf = PnlOf.ACCOUNT
    amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class MarginUtilisationRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.MARGIN_UTILISATION
    ceiling: Decimal = Decimal(1)


@dataclass(frozen=True)
class SessionRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.SESSION
    expiring_within_minutes: int | None = None
    needs_login: bool = True


@dataclass(frozen=True)
class TickerRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.TICKER
    down: bool = True
    stale_seconds: int | None = None


@dataclass(frozen=True)
class RiskRefusalRateRule(AlertRule):
    kind: ClassVar[AlertKind] = AlertKind.RISK_REFUSAL_RATE
    max_refusals: int = 0
    window_seconds: int = 60


@dataclass(frozen=True)
class AutomaticExitRule(AlertRule):
    """An automatic exit fired (a daily loss limit, a profit lock, a margin ceiling): the kill
    switch engaged or the strategy halted, and what the square-off did. Scope: an account id, a
    strategy id, or "*"."""

    kind: ClassVar[AlertKind] = AlertKind.AUTOMATIC_EXIT


# --- loading -------------------------------------------------------------------------------------


def _text(raw: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise AlertConfigError(f"{where}: {key} must be a non-empty string")
    return value


def _choice(raw: Mapping[str, Any], key: str, where: str, enum: type[E], default: E) -> E:
    value = raw.get(key, default.value)
    try:
        return enum(value)
    except ValueError:
        raise AlertConfigError(f"{where}: {key} must be one of {[e.value for e in enum]}, not {value!r}") from None


def _amount(raw: Mapping[str, Any], key: str, where: str, positive: bool = True) -> Decimal:
    if key not in raw:
        raise AlertConfigError(f"{where}: {key} is required")
    value = raw[key]
    try:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidOperation
        number = Decimal(value)
    except InvalidOperation:
        raise AlertConfigError(f'{where}: {key} must be an amount like "1600.50" (a string, not a float)') from None
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise AlertConfigError(f"{where}: {key} must be a {'positive' if positive else 'non-negative'} amount")
    return number


def _whole(raw: Mapping[str, Any], key: str, where: str, required: bool, minimum: int = 1) -> int | None:
    if key not in raw:
        if required:
            raise AlertConfigError(f"{where}: {key} is required")
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise AlertConfigError(f"{where}: {key} must be a whole number of at least {minimum}")
    return value


def _flag(raw: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise AlertConfigError(f"{where}: {key} must be true or false")
    return value


_COMMON = {"id", "kind", "scope", "enabled", "severity"}
_KEYS: dict[AlertKind, set[str]] = {
    AlertKind.PRICE_CROSS: {"direction", "level"},
    AlertKind.PERCENT_MOVE: {"percent", "reference", "direction"},
    AlertKind.ORDER_STATUS: {"statuses"},
    AlertKind.DUPLICATE_DETECTED: set(),
    AlertKind.PNL_DRAWDOWN: {"pnl_of", "amount"},
    AlertKind.MARGIN_UTILISATION: {"ceiling"},
    AlertKind.SESSION: {"expiring_within_minutes", "needs_login"},
    AlertKind.TICKER: {"down", "stale_seconds"},
    AlertKind.RISK_REFUSAL_RATE: {"max_refusals", "window_seconds"},
    AlertKind.AUTOMATIC_EXIT: set(),
}
_INSTRUMENT_KINDS = {AlertKind.PRICE_CROSS, AlertKind.PERCENT_MOVE}


def _statuses(raw: Mapping[str, Any], where: str) -> frozenset[OrderAlertStatus]:
    value = raw.get("statuses", ["REJECTED"])
    names = {"REJECTED", "PARTIALLY_FILLED", "FILLED", "COMPLETE"}
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.upper() in names for v in value):
        raise AlertConfigError(f"{where}: statuses must be a non-empty list among {sorted(names)}")
    return frozenset(OrderAlertStatus("COMPLETE" if v.upper() == "FILLED" else v.upper()) for v in value)


def rule_from_table(raw: object, where: str) -> AlertRule:
    """One `[[alerts.rules]]` table as its rule; `where` names the file and the table's place."""
    if not isinstance(raw, Mapping):
        raise AlertConfigError(f"{where}: must be a table")
    rule_id = _text(raw, "id", where)
    where = f"{where} (id {rule_id!r})"
    kind = _choice(raw, "kind", where, AlertKind, AlertKind.PRICE_CROSS) if "kind" in raw else None
    if kind is None:
        raise AlertConfigError(f"{where}: kind is required, one of {[k.value for k in AlertKind]}")
    known = _COMMON | _KEYS[kind]
    unknown = set(raw) - known
    if unknown:
        raise AlertConfigError(f"{where}: unknown keys {sorted(unknown)} for {kind}; known: {sorted(known)}")
    scope = _text(raw, "scope", where, default=None if kind in _INSTRUMENT_KINDS else ANY)
    if kind in _INSTRUMENT_KINDS and (scope.count(":") != 1 or not all(scope.split(":"))):
        raise AlertConfigError(f'{where}: scope must be an instrument like "NSE:INFY"')
    common: dict[str, Any] = {
        "id": rule_id,
        "scope": scope,
        "enabled": _flag(raw, "enabled", where, True),
        "severity": _choice(raw, "severity", where, Severity, Severity.WARNING),
    }
    match kind:
        case AlertKind.PRICE_CROSS:
            direction = _choice(raw, "direction", where, Direction, Direction.ABOVE)
            return PriceCrossRule(**common, direction=direction, level=_amount(raw, "level", where))
        case AlertKind.PERCENT_MOVE:
            return PercentMoveRule(
                **common,
                percent=_amount(raw, "percent", where),
                reference=_choice(raw, "reference", where, Reference, Reference.CLOSE),
                direction=_choice(raw, "direction", where, MoveDirection, MoveDirection.EITHER),
            )
        case AlertKind.ORDER_STATUS:
            return OrderStatusRule(**common, statuses=_statuses(raw, where))
        case AlertKind.DUPLICATE_DETECTED:
            return DuplicateRule(**common)
        case AlertKind.PNL_DRAWDOWN:
            pnl_of = _choice(raw, "pnl_of", where, PnlOf, PnlOf.ACCOUNT)
            if pnl_of is PnlOf.STRATEGY and scope == ANY:
                raise AlertConfigError(f"{where}: scope must name the strategy for pnl_of = strategy")
            return PnlDrawdownRule(**common, pnl_of=pnl_of, amount=_amount(raw, "amount", where))
        case AlertKind.MARGIN_UTILISATION:
            ceiling = _amount(raw, "ceiling", where)
            if ceiling > 1:
                raise AlertConfigError(f'{where}: ceiling must be a fraction above 0 and at most 1, like "0.9"')
            return MarginUtilisationRule(**common, ceiling=ceiling)
        case AlertKind.SESSION:
            rule = SessionRule(
                **common,
                expiring_within_minutes=_whole(raw, "expiring_within_minutes", where, required=False),
                needs_login=_flag(raw, "needs_login", where, True),
            )
            if rule.expiring_within_minutes is None and not rule.needs_login:
                raise AlertConfigError(f"{where}: set expiring_within_minutes or needs_login = true")
            return rule
        case AlertKind.TICKER:
            ticker = TickerRule(
                **common,
                down=_flag(raw, "down", where, True),
                stale_seconds=_whole(raw, "stale_seconds", where, required=False),
            )
            if ticker.stale_seconds is None and not ticker.down:
                raise AlertConfigError(f"{where}: set stale_seconds or down = true")
            return ticker
        case AlertKind.RISK_REFUSAL_RATE:
            return RiskRefusalRateRule(
                **common,
                max_refusals=_whole(raw, "max_refusals", where, required=True, minimum=0) or 0,
                window_seconds=_whole(raw, "window_seconds", where, required=True) or 1,
            )
        case AlertKind.AUTOMATIC_EXIT:
            return AutomaticExitRule(**common)


def rules_from_document(document: Mapping[str, Any], source: str) -> tuple[AlertRule, ...]:
    """The rules of a parsed alerts file; ids must be unique. Its [[alerts.sinks]] are sinks.py's."""
    unknown = set(document) - {"alerts"}
    if unknown:
        raise AlertConfigError(f"{source}: unknown sections {sorted(unknown)}; use [[alerts.rules]]")
    alerts = document.get("alerts", {})
    if not isinstance(alerts, Mapping) or set(alerts) - {"rules", "sinks"}:
        raise AlertConfigError(
            f"{source}: [alerts] holds only rules and sinks, as [[alerts.rules]] and [[alerts.sinks]] tables"
        )
    tables = alerts.get("rules", [])
    if not isinstance(tables, list):
        raise AlertConfigError(f"{source}: alerts.rules must be [[alerts.rules]] tables")
    rules = tuple(rule_from_table(table, f"{source} [[alerts.rules]] #{n}") for n, table in enumerate(tables, 1))
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise AlertConfigError(f"{source}: id {rule.id!r} is used by two rules")
        seen.add(rule.id)
    return rules


def rules_from_toml(text: str, source: str) -> tuple[AlertRule, ...]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertConfigError(f"{source}: not valid TOML: {exc}") from None
    return rules_from_document(document, source)


def load_rules(path: Path | None) -> tuple[AlertRule, ...]:
    """The rules of the alerts file (KITE_GATEWAY_ALERTS_FILE); no file: no rules."""
    if path is None:
        return ()
    try:
        text = path.read_text()
    except OSError as exc:
        raise AlertConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    return rules_from_toml(text, str(path))

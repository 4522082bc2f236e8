"""The alert engine: events in, alerts out, each alert once per crossing (rules.py says when a rule
re-arms). Pure and synchronous; the caller feeds it events and calls `tick(now)` now and then for
the rules that fire on time passing (a stale ticker, a session about to expire, refusals ageing out
of their window).

Its state is in memory and small: per rule, the keys it is disarmed for (at most `max_keys` per
rule, oldest forgotten first: order and duplicate ids would otherwise grow without end), the
reference prices and P&L peaks, and per rule and account the times of the last N+1 risk refusals.
`snapshot()` gives that state as plain JSON-able data and `restore()` takes it back, so a restarted
gateway does not page again about what it already paged about.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kite_gateway.core.alerts.events import (
    Alert,
    AlertEvent,
    AutomaticExitEvent,
    DuplicateEvent,
    MarginEvent,
    OrderEvent,
    PnlEvent,
    PriceEvent,
    RiskRefusalEvent,
    SessionEvent,
    SessionStatus,
    TickerEvent,
    TickerState,
)
from kite_gateway.core.alerts.rules import (
    AlertRule,
    AutomaticExitRule,
    Direction,
    DuplicateRule,
    MarginUtilisationRule,
    OrderAlertStatus,
    OrderStatusRule,
    PercentMoveRule,
    PnlDrawdownRule,
    PriceCrossRule,
    Reference,
    RiskRefusalRateRule,
    SessionRule,
    TickerRule,
)

SNAPSHOT_VERSION = 1
DEFAULT_MAX_KEYS = 10_000
_SETTLED = {"COMPLETE", "REJECTED", "CANCELLED"}


class AlertStateError(ValueError):
    """A snapshot handed to `restore()` is not one `snapshot()` made; the message says what is wrong."""


def order_alert_status(event: OrderEvent) -> OrderAlertStatus | None:
    """The status an order alert is about: REJECTED, COMPLETE, or PARTIALLY_FILLED for an order still
    working with part of its quantity filled; None for anything else."""
    status = event.status.upper()
    if status == "REJECTED":
        return OrderAlertStatus.REJECTED
    if status == "COMPLETE":
        return OrderAlertStatus.COMPLETE
    if status not in _SETTLED and 0 < event.filled < event.quantity:
        return OrderAlertStatus.PARTIALLY_FILLED
    return None


class AlertEngine:
    def __init__(self, rules: Iterable[AlertRule], max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.rules = tuple(rules)
        ids = [rule.id for rule in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError(f"alert rule ids must be unique: {ids}")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._by_id = {rule.id: rule for rule in self.rules}
        self._disarmed: dict[str, dict[str, None]] = {rule.id: {} for rule in self.rules}
        self._values: dict[str, dict[str, Decimal]] = {rule.id: {} for rule in self.rules}
        self._windows: dict[str, dict[str, deque[datetime]]] = {rule.id: {} for rule in self.rules}
        self._sessions: dict[str, SessionEvent] = {}
        self._tickers: dict[str, TickerEvent] = {}

    # --- arming ----------------------------------------------------------------------------------

    def armed(self, rule_id: str, key: str) -> bool:
        """Whether the rule would fire for the key (its instrument, account, strategy or order)."""
        return key not in self._disarmed[rule_id]

    def _fire_once(self, rule: AlertRule, key: str) -> bool:
        disarmed = self._disarmed[rule.id]
        if key in disarmed:
            return False
        disarmed[key] = None
        while len(disarmed) > self.max_keys:
            del disarmed[next(iter(disarmed))]
        return True

    def _edge(self, rule: AlertRule, key: str, holds: bool) -> bool:
        """True when the condition starts to hold (fire); a condition that clears re-arms the key."""
        if holds:
            return self._fire_once(rule, key)
        self._disarmed[rule.id].pop(key, None)
        return False

    def _remember(self, rule: AlertRule, key: str, value: Decimal) -> None:
        values = self._values[rule.id]
        values.pop(key, None)
        values[key] = value
        while len(values) > self.max_keys:
            del values[next(iter(values))]

    def _active(self) -> Iterable[AlertRule]:
        return (rule for rule in self.rules if rule.enabled)

    # --- events ----------------------------------------------------------------------------------

    def observe(self, event: AlertEvent) -> list[Alert]:
        """The alerts this event fires (none, mostly)."""
        alerts: list[Alert] = []
        for rule in self._active():
            alert = self._apply(rule, event)
            if alert is not None:
                alerts.append(alert)
        if isinstance(event, SessionEvent):
            self._sessions[event.account_id] = event
        elif isinstance(event, TickerEvent):
            self._tickers[event.account_id] = event
        return alerts

    def tick(self, now: datetime) -> list[Alert]:
        """The alerts time alone fires: a ticker gone stale, a session about to expire; refusals
        that aged out of their window re-arm their rule."""
        alerts: list[Alert] = []
        for rule in self._active():
            if isinstance(rule, SessionRule):
                for session in self._sessions.values():
                    if rule.covers(session.account_id):
                        alerts.extend(self._session(rule, session, now))
            elif isinstance(rule, TickerRule):
                for ticker in self._tickers.values():
                    if rule.covers(ticker.account_id):
                        alerts.extend(self._ticker(rule, ticker, now))
            elif isinstance(rule, RiskRefusalRateRule):
                for account_id, window in self._windows[rule.id].items():
                    self._prune(rule, window, now)
                    self._edge(rule, account_id, len(window) > rule.max_refusals)
        return alerts

    def _apply(self, rule: AlertRule, event: AlertEvent) -> Alert | None:
        if isinstance(event, PriceEvent):
            if not rule.covers(event.instrument):
                return None
            if isinstance(rule, PriceCrossRule):
                return self._price_cross(rule, event)
            if isinstance(rule, PercentMoveRule):
                return self._percent_move(rule, event)
            return None
        if isinstance(event, PnlEvent):
            if isinstance(rule, PnlDrawdownRule) and rule.pnl_of is event.scope and rule.covers(event.scope_id):
                return self._drawdown(rule, event)
            return None
        if not rule.covers(event.account_id):
            return None
        if isinstance(event, OrderEvent) and isinstance(rule, OrderStatusRule):
            return self._order(rule, event)
        if isinstance(event, DuplicateEvent) and isinstance(rule, DuplicateRule):
            return self._duplicate(rule, event)
        if isinstance(event, MarginEvent) and isinstance(rule, MarginUtilisationRule):
            return self._margin(rule, event)
        if isinstance(event, SessionEvent) and isinstance(rule, SessionRule):
            found = self._session(rule, event, event.at)
            return found[0] if found else None
        if isinstance(event, TickerEvent) and isinstance(rule, TickerRule):
            found = self._ticker(rule, event, event.at)
            return found[0] if found else None
        if isinstance(event, RiskRefusalEvent) and isinstance(rule, RiskRefusalRateRule):
            return self._refusal(rule, event)
        if isinstance(event, AutomaticExitEvent) and isinstance(rule, AutomaticExitRule):
            return self._exit(rule, event)
        return None

    def _exit(self, rule: AutomaticExitRule, event: AutomaticExitEvent) -> Alert | None:
        if not self._fire_once(rule, f"exit:{event.event_id}"):
            return None
        return self._alert(
            rule,
            event.scope_id,
            f"Automatic exit: {event.scope} {event.scope_id} ({event.rule})",
            f"The {event.rule} of {event.scope} {event.scope_id} fired: {event.reason}. Done: {event.outcome}. "
            "New orders stay refused until a person releases the kill switch (SetKillSwitch) or the next day.",
            event.at,
            scope=event.scope,
            scope_id=event.scope_id,
            rule=event.rule,
            outcome=event.outcome,
        )

    @staticmethod
    def _alert(rule: AlertRule, scope: str, title: str, message: str, at: datetime, /, **fields: object) -> Alert:
        return Alert(
            rule.id, rule.kind, rule.severity, scope, title, message, {k: str(v) for k, v in fields.items()}, at
        )

    def _price_cross(self, rule: PriceCrossRule, event: PriceEvent) -> Alert | None:
        if not self._edge(rule, event.instrument, rule.holds(event.last_price)):
            return None
        side = "at or above" if rule.direction is Direction.ABOVE else "at or below"
        return self._alert(
            rule,
            event.instrument,
            f"{event.instrument} crossed {rule.level}",
            f"{event.instrument} traded at {event.last_price}, {side} the alert level {rule.level}. "
            "Review the position or the orders waiting on this level.",
            event.at,
            instrument=event.instrument,
            last_price=event.last_price,
            level=rule.level,
            direction=rule.direction.value,
        )

    def _percent_move(self, rule: PercentMoveRule, event: PriceEvent) -> Alert | None:
        if rule.reference is Reference.CLOSE:
            reference = event.close
        else:
            reference = self._values[rule.id].get(event.instrument)
            if reference is None:
                self._remember(rule, event.instrument, event.last_price)
                reference = event.last_price
        if reference is None or reference <= 0:
            return None  # no reference to move from (no close in the quote)
        move = rule.move(event.last_price, reference)
        if not self._edge(rule, event.instrument, rule.holds(move)):
            return None
        what = "previous close" if rule.reference is Reference.CLOSE else "first price seen"
        shown = move.quantize(Decimal("0.01"))
        return self._alert(
            rule,
            event.instrument,
            f"{event.instrument} moved {shown}%",
            f"{event.instrument} is at {event.last_price}, {shown}% from its {what} {reference} "
            f"(alert at {rule.percent}%). Check the exposure to it.",
            event.at,
            instrument=event.instrument,
            last_price=event.last_price,
            reference=reference,
            reference_kind=rule.reference.value,
            move_percent=shown,
        )

    def _order(self, rule: OrderStatusRule, event: OrderEvent) -> Alert | None:
        status = order_alert_status(event)
        if status is None or status not in rule.statuses:
            return None
        if not self._fire_once(rule, f"{event.account_id}:{event.order_id}:{status.value}"):
            return None
        if status is OrderAlertStatus.REJECTED:
            title = f"Order {event.order_id} rejected"
            message = (
                f"Kite rejected order {event.order_id} of account {event.account_id}: "
                f"{event.status_message or 'no reason given'}. Fix the order and place it again."
            )
        elif status is OrderAlertStatus.COMPLETE:
            title = f"Order {event.order_id} filled"
            message = (
                f"Order {event.order_id} of account {event.account_id} filled: {event.filled} of {event.quantity}."
            )
        else:
            title = f"Order {event.order_id} partially filled"
            message = (
                f"Order {event.order_id} of account {event.account_id} has filled {event.filled} of "
                f"{event.quantity}; the rest is still open. Decide whether to wait, modify or cancel it."
            )
        return self._alert(
            rule,
            event.account_id,
            title,
            message,
            event.at,
            account_id=event.account_id,
            order_id=event.order_id,
            status=status.value,
            filled=event.filled,
            quantity=event.quantity,
            status_message=event.status_message,
        )

    def _duplicate(self, rule: DuplicateRule, event: DuplicateEvent) -> Alert | None:
        if not self._fire_once(rule, f"{event.account_id}:{event.duplicate_order_id}"):
            return None
        return self._alert(
            rule,
            event.account_id,
            f"Duplicate order {event.duplicate_order_id}",
            f"Account {event.account_id} has two orders for client_order_id {event.client_order_id}: kept "
            f"{event.kept_order_id}, duplicate {event.duplicate_order_id} ({event.action}). {event.message} "
            "Check the account's orders and positions at Kite.",
            event.at,
            account_id=event.account_id,
            client_order_id=event.client_order_id,
            kept_order_id=event.kept_order_id,
            duplicate_order_id=event.duplicate_order_id,
            action=event.action,
        )

    def _drawdown(self, rule: PnlDrawdownRule, event: PnlEvent) -> Alert | None:
        peak = self._values[rule.id].get(event.scope_id, Decimal(0))  # the day's P&L starts at zero
        if event.pnl > peak:
            peak = event.pnl
            self._remember(rule, event.scope_id, peak)
        floor = peak - rule.amount
        if not self._edge(rule, event.scope_id, event.pnl <= floor):
            return None
        return self._alert(
            rule,
            event.scope_id,
            f"P&L of {event.scope.value} {event.scope_id} down {peak - event.pnl} from its peak",
            f"The P&L of {event.scope.value} {event.scope_id} is {event.pnl}, {peak - event.pnl} below its "
            f"peak {peak} (alert at {rule.amount}). Review its positions; consider reducing them.",
            event.at,
            scope=event.scope.value,
            scope_id=event.scope_id,
            pnl=event.pnl,
            peak=peak,
            drawdown=peak - event.pnl,
        )

    def _margin(self, rule: MarginUtilisationRule, event: MarginEvent) -> Alert | None:
        if not self._edge(rule, event.account_id, event.utilisation >= rule.ceiling):
            return None
        return self._alert(
            rule,
            event.account_id,
            f"Margin of {event.account_id} at {event.utilisation * 100:.1f}%",
            f"Account {event.account_id} uses {event.utilisation * 100:.1f}% of its margin (ceiling "
            f"{rule.ceiling * 100:.1f}%). New orders may be refused; add funds or reduce positions.",
            event.at,
            account_id=event.account_id,
            utilisation=event.utilisation,
            ceiling=rule.ceiling,
        )

    def _session(self, rule: SessionRule, event: SessionEvent, now: datetime) -> list[Alert]:
        alerts = []
        account = event.account_id
        if rule.needs_login and self._edge(rule, f"{account}:needs_login", event.state is SessionStatus.NEEDS_LOGIN):
            alerts.append(
                self._alert(
                    rule,
                    account,
                    f"Account {account} needs a login",
                    f"The gateway cannot act for account {account} until someone logs in to Kite: {event.login_url}",
                    now,
                    account_id=account,
                    state=event.state.value,
                    login_url=event.login_url,
                )
            )
        if rule.expiring_within_minutes is not None:
            within = timedelta(minutes=rule.expiring_within_minutes)
            expires_at = event.expires_at if event.state is SessionStatus.ACTIVE else None
            expiring = expires_at is not None and expires_at - now <= within
            if self._edge(rule, f"{account}:expiring", expiring) and expires_at is not None:
                alerts.append(
                    self._alert(
                        rule,
                        account,
                        f"Session of {account} expires soon",
                        f"The Kite session of account {account} expires at {expires_at.isoformat()}. "
                        f"Log in again before then: {event.login_url}",
                        now,
                        account_id=account,
                        expires_at=expires_at.isoformat(),
                        login_url=event.login_url,
                    )
                )
        return alerts

    def _ticker(self, rule: TickerRule, event: TickerEvent, now: datetime) -> list[Alert]:
        alerts = []
        account = event.account_id
        if rule.down and self._edge(rule, f"{account}:down", event.state is TickerState.DOWN):
            alerts.append(
                self._alert(
                    rule,
                    account,
                    f"Ticker of {account} down",
                    f"The market data connection of account {account} is down: prices, exits and price "
                    "alerts are not being updated. Check the network and the account's session.",
                    now,
                    account_id=account,
                    state=event.state.value,
                )
            )
        if rule.stale_seconds is not None:
            since = event.last_tick_at or event.at
            stale = event.state is TickerState.CONNECTED and now - since >= timedelta(seconds=rule.stale_seconds)
            if self._edge(rule, f"{account}:stale", stale):
                alerts.append(
                    self._alert(
                        rule,
                        account,
                        f"Ticker of {account} stale",
                        f"The ticker of account {account} is connected but has sent no tick since "
                        f"{since.isoformat()} ({rule.stale_seconds}s or more). Check the subscriptions and "
                        "whether the market is open.",
                        now,
                        account_id=account,
                        last_tick_at=since.isoformat(),
                    )
                )
        return alerts

    @staticmethod
    def _prune(rule: RiskRefusalRateRule, window: deque[datetime], now: datetime) -> None:
        start = now - timedelta(seconds=rule.window_seconds)
        while window and window[0] <= start:
            window.popleft()

    def _refusal(self, rule: RiskRefusalRateRule, event: RiskRefusalEvent) -> Alert | None:
        windows = self._windows[rule.id]
        window = windows.setdefault(event.account_id, deque(maxlen=rule.max_refusals + 1))
        window.append(event.at)
        self._prune(rule, window, event.at)
        if not self._edge(rule, event.account_id, len(window) > rule.max_refusals):
            return None
        return self._alert(
            rule,
            event.account_id,
            f"Unusual trading activity on {event.account_id}",
            f"The risk checks refused more than {rule.max_refusals} orders of account {event.account_id} "
            f"within {rule.window_seconds}s (last: {event.reason}). Check what is placing them; engage the "
            "kill switch if it is runaway.",
            event.at,
            account_id=event.account_id,
            refusals=len(window),
            window_seconds=rule.window_seconds,
            last_reason=event.reason,
        )

    # --- snapshot --------------------------------------------------------------------------------

    def with_rules(self, rules: Iterable[AlertRule]) -> AlertEngine:
        """A new engine of `rules` that keeps this one's state: every rule still configured the same
        way keeps its arming, references and windows; a new rule, or one whose id now has another
        definition (a new level, say), starts armed. The sessions and tickers seen stay known."""
        engine = AlertEngine(rules, self.max_keys)
        kept = {rule.id for rule in engine.rules if self._by_id.get(rule.id) == rule}
        state = self.snapshot()
        for table in ("disarmed", "values", "windows"):
            state[table] = {rule_id: entry for rule_id, entry in state[table].items() if rule_id in kept}
        engine.restore(state)
        engine._sessions = dict(self._sessions)
        engine._tickers = dict(self._tickers)
        return engine

    def snapshot(self) -> dict[str, Any]:
        """The arming state as JSON-able data: disarmed keys, reference prices and peaks (as decimal
        strings), refusal times (ISO 8601)."""
        return {
            "version": SNAPSHOT_VERSION,
            "disarmed": {rule_id: list(keys) for rule_id, keys in self._disarmed.items() if keys},
            "values": {
                rule_id: {key: str(value) for key, value in values.items()}
                for rule_id, values in self._values.items()
                if values
            },
            "windows": {
                rule_id: {account: [t.isoformat() for t in times] for account, times in windows.items() if times}
                for rule_id, windows in self._windows.items()
                if any(windows.values())
            },
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back a snapshot; rules no longer configured are skipped (a rule's state follows its id)."""
        if not isinstance(state, Mapping) or state.get("version") != SNAPSHOT_VERSION:
            raise AlertStateError(f"alert state: version must be {SNAPSHOT_VERSION}")
        disarmed = _table(state, "disarmed")
        values = _table(state, "values")
        windows = _table(state, "windows")
        for rule_id, keys in disarmed.items():
            if rule_id in self._by_id:
                if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                    raise AlertStateError(f"alert state: disarmed.{rule_id} must be a list of keys")
                self._disarmed[rule_id] = dict.fromkeys(keys[-self.max_keys :])
        for rule_id, table in values.items():
            if rule_id in self._by_id:
                self._values[rule_id] = {key: _decimal(v, f"values.{rule_id}.{key}") for key, v in _map(table, rule_id)}
        for rule_id, table in windows.items():
            rule = self._by_id.get(rule_id)
            if isinstance(rule, RiskRefusalRateRule):
                self._windows[rule_id] = {
                    account: deque(
                        (_time(t, f"windows.{rule_id}.{account}") for t in _list(times, rule_id)),
                        maxlen=rule.max_refusals + 1,
                    )
                    for account, times in _map(table, rule_id)
                }


def _table(state: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = state.get(name, {})
    if not isinstance(table, Mapping):
        raise AlertStateError(f"alert state: {name} must be an object keyed by rule id")
    return table


def _map(table: object, rule_id: str) -> Iterable[tuple[str, Any]]:
    if not isinstance(table, Mapping):
        raise AlertStateError(f"alert state: the entry of rule {rule_id!r} must be an object")
    return table.items()


def _list(times: object, rule_id: str) -> list[Any]:
    if not isinstance(times, list):
        raise AlertStateError(f"alert state: the refusal times of rule {rule_id!r} must be a list")
    return times


def _decimal(raw: object, where: str) -> Decimal:
    try:
        if not isinstance(raw, str):
            raise InvalidOperation
        return Decimal(raw)
    except InvalidOperation:
        raise AlertStateError(f"alert state: {where} must be a decimal string") from None


def _time(raw: object, where: str) -> datetime:
    try:
        if not isinstance(raw, str):
            raise ValueError
        return datetime.fromisoformat(raw)
    except ValueError:
        raise AlertStateError(f"alert state: {where} must be an ISO 8601 time") from None

"""What the alert engine is told: one typed event per source (quotes, orders, duplicates, P&L,
margins, sessions, the ticker, risk refusals), and the alerts it answers with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from kite_gateway.core.alerts.rules import AlertKind, PnlOf, Severity


class SessionStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_LOGIN = "needs_login"
    ERROR = "error"


class TickerState(StrEnum):
    CONNECTED = "connected"
    DOWN = "down"


@dataclass(frozen=True)
class PriceEvent:
    exchange: str
    tradingsymbol: str
    last_price: Decimal
    close: Decimal | None  # the previous session's close; None or 0: not known
    at: datetime

    @property
    def instrument(self) -> str:
        return f"{self.exchange}:{self.tradingsymbol}"


@dataclass(frozen=True)
class OrderEvent:
    account_id: str
    order_id: str
    status: str  # Kite's order status: OPEN, COMPLETE, REJECTED, CANCELLED, ...
    filled: int
    quantity: int
    status_message: str
    at: datetime


@dataclass(frozen=True)
class DuplicateEvent:
    account_id: str
    client_order_id: str
    kept_order_id: str
    duplicate_order_id: str
    action: str  # what the gateway did about it, as a word (CANCELLED, KEPT, ...)
    message: str
    at: datetime


@dataclass(frozen=True)
class PnlEvent:
    scope: PnlOf
    scope_id: str
    pnl: Decimal
    at: datetime


@dataclass(frozen=True)
class MarginEvent:
    account_id: str
    utilisation: Decimal  # used / total margin
    at: datetime


@dataclass(frozen=True)
class SessionEvent:
    account_id: str
    state: SessionStatus
    expires_at: datetime | None
    login_url: str
    at: datetime


@dataclass(frozen=True)
class TickerEvent:
    account_id: str
    state: TickerState
    last_tick_at: datetime | None
    at: datetime


@dataclass(frozen=True)
class RiskRefusalEvent:
    account_id: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class AutomaticExitEvent:
    """An automatic exit fired (kite_gateway/core/risk/exits.py's ExitEvent, as the alerts see it)."""

    event_id: int
    scope: str  # "account" or "strategy"
    scope_id: str
    rule: str  # the exit rule: daily_loss_limit, profit_lock, max_margin_utilisation
    reason: str
    outcome: str  # what was done: kill switch, halt, square-off
    at: datetime

    @property
    def account_id(self) -> str:
        return self.scope_id


AlertEvent = (
    PriceEvent
    | OrderEvent
    | DuplicateEvent
    | PnlEvent
    | MarginEvent
    | SessionEvent
    | TickerEvent
    | RiskRefusalEvent
    | AutomaticExitEvent
)


@dataclass(frozen=True)
class Alert:
    """One thing to tell a person: `message` says what happened and what to do about it."""

    rule_id: str
    kind: AlertKind
    severity: Severity
    scope: str  # the instrument, account or strategy it is about
    title: str
    message: str
    fields: dict[str, str]
    at: datetime

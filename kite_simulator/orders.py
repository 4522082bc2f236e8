"""An order as Kite keeps it: its fields, its state history and its JSON forms."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from kite_simulator.universe import SimInstrument
from kite_wire import kite_number, kite_timestamp

PUT_ORDER_REQ_RECEIVED = "PUT ORDER REQ RECEIVED"
VALIDATION_PENDING = "VALIDATION PENDING"
OPEN_PENDING = "OPEN PENDING"
OPEN = "OPEN"
TRIGGER_PENDING = "TRIGGER PENDING"
AMO_REQ_RECEIVED = "AMO REQ RECEIVED"
MODIFY_VALIDATION_PENDING = "MODIFY VALIDATION PENDING"
MODIFY_PENDING = "MODIFY PENDING"
MODIFIED = "MODIFIED"
CANCEL_PENDING = "CANCEL PENDING"
COMPLETE = "COMPLETE"
CANCELLED = "CANCELLED"
REJECTED = "REJECTED"

FINAL_STATUSES = frozenset({COMPLETE, CANCELLED, REJECTED})
WORKING_STATUSES = frozenset({OPEN, TRIGGER_PENDING, AMO_REQ_RECEIVED})


@dataclass
class SimOrder:
    """A simulated order; `history` holds a JSON snapshot per state, oldest first."""

    order_id: str
    user_id: str
    app_id: int
    api_key: str
    instrument: SimInstrument
    variety: str
    transaction_type: str
    order_type: str
    product: str
    validity: str
    quantity: int
    price: Decimal
    trigger_price: Decimal
    disclosed_quantity: int = 0
    validity_ttl: int = 0
    market_protection: Decimal = Decimal(0)
    tag: str | None = None
    auction_number: str | None = None
    algo_id: str | None = None  # the `algo_id` form field, kept but not shown (Kite's order book has no such key)
    parent_order_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    exchange_order_id: str | None = None
    status: str = PUT_ORDER_REQ_RECEIVED
    status_message: str | None = None
    order_time: datetime | None = None
    exchange_time: datetime | None = None
    exchange_update_time: datetime | None = None
    filled_quantity: int = 0
    cancelled_quantity: int = 0
    filled_value: Decimal = Decimal(0)
    modifications: int = 0
    triggered: bool = False
    guid: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    kite_tags: list[str] = field(default_factory=list)  # tags Kite adds itself, e.g. an autoslice child's

    @property
    def pending_quantity(self) -> int:
        return self.quantity - self.filled_quantity - self.cancelled_quantity

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def tags(self) -> list[str]:
        return ([self.tag] if self.tag else []) + self.kite_tags

    def transition(self, status: str, at: datetime, message: str | None = None) -> None:
        """Move to a status and record the snapshot in the history."""
        self.status = status
        if message is not None:
            self.status_message = message
        if status not in (PUT_ORDER_REQ_RECEIVED, VALIDATION_PENDING, OPEN_PENDING, AMO_REQ_RECEIVED):
            self.exchange_update_time = at
        self.history.append(self.to_json())

    @property
    def average_price(self) -> Decimal:
        """Volume-weighted price of the fills so far (to 4 decimals, as Kite shows it)."""
        if not self.filled_quantity:
            return Decimal(0)
        return (self.filled_value / self.filled_quantity).quantize(Decimal("0.0001")).normalize()

    def fill(self, quantity: int, price: Decimal) -> None:
        self.filled_quantity += quantity
        self.filled_value += price * quantity

    def to_json(self) -> dict[str, Any]:
        """The order as `/orders` and `/orders/{id}` show it."""
        body: dict[str, Any] = {
            "account_id": self.user_id,
            "placed_by": self.user_id,
            "order_id": self.order_id,
            "exchange_order_id": self.exchange_order_id,
            "parent_order_id": self.parent_order_id,
            "status": self.status,
            "status_message": self.status_message,
            "status_message_raw": self.status_message,
            "order_timestamp": kite_timestamp(self.order_time) if self.order_time else None,
            "exchange_update_timestamp": kite_timestamp(self.exchange_update_time)
            if self.exchange_update_time
            else None,
            "exchange_timestamp": kite_timestamp(self.exchange_time) if self.exchange_time else None,
            "variety": self.variety,
            "modified": self.modifications > 0,
            "exchange": self.instrument.exchange,
            "tradingsymbol": self.instrument.tradingsymbol,
            "instrument_token": self.instrument.instrument_token,
            "order_type": self.order_type,
            "transaction_type": self.transaction_type,
            "validity": self.validity,
            "validity_ttl": self.validity_ttl,
            "product": self.product,
            "quantity": self.quantity,
            "disclosed_quantity": self.disclosed_quantity,
            "price": kite_number(self.price),
            "trigger_price": kite_number(self.trigger_price),
            "average_price": kite_number(self.average_price),
            "filled_quantity": self.filled_quantity,
            "pending_quantity": self.pending_quantity if not self.is_final else 0,
            "cancelled_quantity": self.cancelled_quantity,
            "market_protection": kite_number(self.market_protection),
            "meta": copy.deepcopy(self.meta),
            "tag": self.tag,
            "tags": self.tags,
            "guid": self.guid,
        }
        if self.auction_number is not None:
            body["auction_number"] = self.auction_number
        return body


@dataclass(frozen=True)
class SimTrade:
    """One fill."""

    trade_id: str
    order: SimOrder
    quantity: int
    price: Decimal
    at: datetime

    def to_json(self) -> dict[str, Any]:
        order = self.order
        return {
            "trade_id": self.trade_id,
            "order_id": order.order_id,
            "exchange": order.instrument.exchange,
            "tradingsymbol": order.instrument.tradingsymbol,
            "instrument_token": order.instrument.instrument_token,
            "product": order.product,
            "average_price": kite_number(self.price),
            "quantity": self.quantity,
            "exchange_order_id": order.exchange_order_id,
            "transaction_type": order.transaction_type,
            "fill_timestamp": kite_timestamp(self.at),
            "order_timestamp": kite_timestamp(order.order_time or self.at)[11:],
            "exchange_timestamp": kite_timestamp(order.exchange_time or self.at),
        }

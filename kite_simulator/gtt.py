"""GTT (good till triggered) triggers: single and two-leg (OCO), placed as orders on a price cross."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kite_simulator.engine import TradingEngine
from kite_simulator.errors import KiteError, input_error
from kite_simulator.ids import lifetime_sequence
from kite_simulator.sessions import App
from kite_simulator.universe import SimInstrument
from kite_wire import kite_number, kite_timestamp

ACTIVE, TRIGGERED, DELETED, EXPIRED = "active", "triggered", "deleted", "expired"
LIFETIME = timedelta(days=365)


@dataclass
class Gtt:
    gtt_id: int
    user_id: str
    app: App
    kind: str
    instrument: SimInstrument
    last_price: Decimal
    trigger_values: list[Decimal]
    orders: list[dict[str, Any]]
    created: datetime
    updated: datetime
    status: str = ACTIVE
    results: list[dict[str, Any] | None] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.gtt_id,
            "user_id": self.user_id,
            "parent_trigger": None,
            "type": self.kind,
            "created_at": kite_timestamp(self.created),
            "updated_at": kite_timestamp(self.updated),
            "expires_at": kite_timestamp(self.created + LIFETIME),
            "status": self.status,
            "condition": {
                "exchange": self.instrument.exchange,
                "last_price": kite_number(self.last_price),
                "tradingsymbol": self.instrument.tradingsymbol,
                "trigger_values": [kite_number(v) for v in self.trigger_values],
                "instrument_token": self.instrument.instrument_token,
            },
            "orders": [
                {**order, "result": self.results[i] if i < len(self.results) else None}
                for i, order in enumerate(self.orders)
            ],
            "meta": {},
        }


def _json_field(form: dict[str, str], name: str) -> Any:
    try:
        return json.loads(form.get(name) or "")
    except json.JSONDecodeError:
        raise input_error(f"Invalid `{name}`: not JSON.") from None


def _decimal(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise input_error(f"Invalid `{name}`.") from None
    if not number.is_finite() or number <= 0:
        raise input_error(f"Invalid `{name}`.")
    return number


class GttBook:
    """Every account's GTT triggers."""

    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine
        self.triggers: dict[int, Gtt] = {}
        self.changed: Callable[[], None] = lambda: None  # told when a trigger fires or expires
        self.ids = lifetime_sequence(engine.clock.now(), 100_001)

    def _parse(self, form: dict[str, str]) -> tuple[str, SimInstrument, Decimal, list[Decimal], list[dict[str, Any]]]:
        kind = form.get("type", "")
        if kind not in ("single", "two-leg"):
            raise input_error("Invalid `type`: single or two-leg.")
        condition = _json_field(form, "condition")
        orders = _json_field(form, "orders")
        if not isinstance(condition, dict) or not isinstance(orders, list):
            raise input_error("Invalid `condition` or `orders`.")
        instrument = self.engine.instrument(
            {k: str(v) for k, v in condition.items() if k in ("exchange", "tradingsymbol")}
        )
        values = condition.get("trigger_values")
        if not isinstance(values, list) or len(values) != (1 if kind == "single" else 2) or len(orders) != len(values):
            raise input_error("A single GTT needs one trigger value and one order; a two-leg GTT two of each.")
        triggers = [_decimal(v, "trigger_values") for v in values]
        if kind == "two-leg" and triggers[0] >= triggers[1]:
            raise input_error("Two-leg trigger values must be lower (stop-loss) then upper (target).")
        last_price = _decimal(condition.get("last_price"), "last_price")
        if any(abs(t - last_price) / last_price < Decimal("0.0025") for t in triggers):
            raise input_error("Trigger price is too close to the last price (at least 0.25% away).")
        legs = []
        for order in orders:
            if not isinstance(order, dict):
                raise input_error("Invalid `orders`.")
            missing = [k for k in ("transaction_type", "quantity", "order_type", "product", "price") if k not in order]
            if missing:
                raise input_error(f"Missing `{missing[0]}` in a GTT order.")
            legs.append(
                {
                    "exchange": instrument.exchange,
                    "tradingsymbol": instrument.tradingsymbol,
                    "product": str(order["product"]),
                    "order_type": str(order["order_type"]),
                    "transaction_type": str(order["transaction_type"]),
                    "quantity": int(order["quantity"]),
                    "price": kite_number(_decimal(order["price"], "price")),
                }
            )
        return kind, instrument, last_price, triggers, legs

    def place(self, app: App, user_id: str, form: dict[str, str]) -> int:
        kind, instrument, last_price, triggers, legs = self._parse(form)
        now = self.engine.clock.now()
        gtt = Gtt(self.ids.take(), user_id, app, kind, instrument, last_price, triggers, legs, now, now)
        self.triggers[gtt.gtt_id] = gtt
        return gtt.gtt_id

    def get(self, user_id: str, gtt_id: int) -> Gtt:
        gtt = self.triggers.get(gtt_id)
        if gtt is None or gtt.user_id != user_id:
            raise KiteError("GeneralException", f"Trigger {gtt_id} not found.", 404)
        return gtt

    def modify(self, user_id: str, gtt_id: int, form: dict[str, str]) -> int:
        gtt = self.get(user_id, gtt_id)
        if gtt.status != ACTIVE:
            raise input_error(f"Trigger {gtt_id} is {gtt.status} and cannot be modified.")
        gtt.kind, gtt.instrument, gtt.last_price, gtt.trigger_values, gtt.orders = self._parse(form)
        gtt.updated = self.engine.clock.now()
        return gtt_id

    def delete(self, user_id: str, gtt_id: int) -> int:
        gtt = self.get(user_id, gtt_id)
        if gtt.status != ACTIVE:
            raise input_error(f"Trigger {gtt_id} is {gtt.status} and cannot be deleted.")
        gtt.status = DELETED
        gtt.updated = self.engine.clock.now()
        return gtt_id

    def list(self, user_id: str) -> list[dict[str, Any]]:
        return [g.to_json() for g in reversed(self.triggers.values()) if g.user_id == user_id]

    def check(self) -> None:
        """Fire every active trigger whose price has been crossed."""
        now = self.engine.clock.now()
        for gtt in self.triggers.values():
            if gtt.status != ACTIVE:
                continue
            if now >= gtt.created + LIFETIME:
                gtt.status, gtt.updated = EXPIRED, now
                self.changed()
                continue
            if not self.engine.hours.is_open(gtt.instrument.exchange, now):
                continue
            price = self.engine.quote(gtt.instrument).last_price
            if gtt.kind == "single":
                above = gtt.trigger_values[0] > gtt.last_price
                hit = 0 if (price >= gtt.trigger_values[0] if above else price <= gtt.trigger_values[0]) else None
            else:
                hit = 0 if price <= gtt.trigger_values[0] else 1 if price >= gtt.trigger_values[1] else None
            if hit is not None:
                self._fire(gtt, hit, price, now)
                self.changed()

    def _fire(self, gtt: Gtt, leg: int, price: Decimal, now: datetime) -> None:
        order = gtt.orders[leg]
        form = {k: str(v) for k, v in order.items()}
        result: dict[str, Any] = {"status": "success", "order_id": "", "rejection_reason": ""}
        try:
            result["order_id"] = self.engine.place(gtt.app, gtt.user_id, "regular", form, counted=False)
            placed = self.engine.account(gtt.user_id).orders[result["order_id"]]
            if placed.status == "REJECTED":
                result.update(status="failed", rejection_reason=placed.status_message or "")
        except KiteError as exc:
            result.update(status="failed", rejection_reason=exc.message)
        gtt.results = [None] * len(gtt.orders)
        gtt.results[leg] = {
            "account_id": gtt.user_id,
            **order,
            "validity": "DAY",
            "meta": json.dumps({"app_id": gtt.app.app_id, "gtt": gtt.gtt_id}),
            "timestamp": kite_timestamp(now),
            "triggered_at": kite_number(price),
            "order_result": result,
        }
        gtt.status, gtt.updated = TRIGGERED, now

"""Kite's alerts (simple and ATO, "Alert Triggers Order"), evaluated against the simulator's prices.

An enabled alert whose condition holds at a matching step triggers: its count goes up, a history
entry records the condition and the quotes it saw and, for an ATO alert, the basket's orders are
placed. Kite does not document what becomes of an alert after it triggers; the simulator disables
it (disabled_reason "triggered"), so a condition that keeps holding fires once, not every step."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kite_simulator.engine import TradingEngine
from kite_simulator.errors import KiteError, input_error
from kite_simulator.sessions import App
from kite_simulator.universe import SimInstrument
from kite_wire import (
    ALERT_ATO,
    ALERT_DELETED,
    ALERT_DISABLED,
    ALERT_ENABLED,
    ALERT_EXCHANGES,
    ALERT_STATUSES,
    ALERT_TYPES,
    ATTRIBUTES,
    OPERATORS,
    RHS_CONSTANT,
    RHS_INSTRUMENT,
    alert_condition_text,
    alert_holds,
    kite_number,
    kite_timestamp,
)

BASKET_ITEMS = 20  # the most instruments a basket holds (Kite UI)
ITEM_FIELDS = ("transaction_type", "quantity", "product", "order_type")


@dataclass
class Condition:
    """What an alert watches: `lhs operator rhs`, the rhs a constant or another instrument."""

    name: str
    kind: str
    lhs: SimInstrument
    attribute: str
    operator: str
    rhs_type: str
    rhs_constant: Decimal
    rhs: SimInstrument | None
    rhs_attribute: str
    basket: dict[str, Any] | None


@dataclass
class Alert:
    uuid: str
    user_id: str
    app: App
    condition: Condition
    created: datetime
    updated: datetime
    status: str = ALERT_ENABLED
    disabled_reason: str = ""
    alert_count: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        c = self.condition
        row: dict[str, Any] = {
            "type": c.kind,
            "user_id": self.user_id,
            "uuid": self.uuid,
            "name": c.name,
            "status": self.status,
            "disabled_reason": self.disabled_reason,
            "lhs_attribute": c.attribute,
            "lhs_exchange": c.lhs.exchange,
            "lhs_tradingsymbol": c.lhs.tradingsymbol,
            "operator": c.operator,
            "rhs_type": c.rhs_type,
            "rhs_attribute": c.rhs_attribute if c.rhs else "",
            "rhs_exchange": c.rhs.exchange if c.rhs else "",
            "rhs_tradingsymbol": c.rhs.tradingsymbol if c.rhs else "",
            "rhs_constant": kite_number(c.rhs_constant),
            "alert_count": self.alert_count,
            "created_at": kite_timestamp(self.created),
            "updated_at": kite_timestamp(self.updated),
        }
        if c.basket is not None:
            row["basket"] = c.basket
        return row


def _decimal(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise input_error(f"Invalid `{name}`.") from None
    if not number.is_finite():
        raise input_error(f"Invalid `{name}`.")
    return number


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not str(value).isdigit() or int(value) <= 0:
        raise input_error(f"Invalid `{name}`.")
    return int(value)


class AlertBook:
    """Every account's alerts."""

    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine
        self.alerts: dict[str, Alert] = {}
        self.changed: Callable[[], None] = lambda: None  # told when an alert triggers

    def _instrument(self, form: dict[str, str], side: str) -> SimInstrument:
        exchange, symbol = form.get(f"{side}_exchange", ""), form.get(f"{side}_tradingsymbol", "")
        if exchange not in ALERT_EXCHANGES:
            raise input_error(f"Invalid `{side}_exchange`.")
        if not symbol:
            raise input_error(f"Missing `{side}_tradingsymbol`.")
        return self.engine.instrument({"exchange": exchange, "tradingsymbol": symbol})

    def _attribute(self, form: dict[str, str], side: str) -> str:
        attribute = form.get(f"{side}_attribute", "")
        if attribute not in ATTRIBUTES:
            raise input_error(f"Invalid `{side}_attribute`.")
        return attribute

    def _basket(self, raw: str) -> dict[str, Any]:
        try:
            basket = json.loads(raw)
        except json.JSONDecodeError:
            raise input_error("Invalid `basket`: not JSON.") from None
        items = basket.get("items") if isinstance(basket, dict) else None
        if not isinstance(items, list) or not 0 < len(items) <= BASKET_ITEMS:
            raise input_error(f"Invalid `basket`: 1 to {BASKET_ITEMS} items.")
        checked = []
        for i, item in enumerate(items, start=1):
            params = item.get("params") if isinstance(item, dict) else None
            if not isinstance(params, dict):
                raise input_error("Invalid `basket`: an item without `params`.")
            missing = [k for k in ITEM_FIELDS if k not in params]
            if missing:
                raise input_error(f"Missing `{missing[0]}` in a basket item.")
            _positive_int(params["quantity"], "quantity")
            instrument = self.engine.instrument(
                {"exchange": str(item.get("exchange", "")), "tradingsymbol": str(item.get("tradingsymbol", ""))}
            )
            checked.append({**item, "id": i, "instrument_token": instrument.instrument_token})
        return {**basket, "items": checked}

    def _parse(self, form: dict[str, str]) -> Condition:
        name, kind = form.get("name", ""), form.get("type", "")
        if not name:
            raise input_error("Missing `name`.")
        if kind not in ALERT_TYPES:
            raise input_error("Invalid `type`: simple or ato.")
        lhs, attribute = self._instrument(form, "lhs"), self._attribute(form, "lhs")
        operator = form.get("operator", "")
        if operator not in OPERATORS:
            raise input_error(f"Invalid `operator`: one of {', '.join(OPERATORS)}.")
        rhs_type = form.get("rhs_type", "")
        rhs, rhs_attribute, constant = None, "", Decimal(0)
        if rhs_type == RHS_CONSTANT:
            constant = _decimal(form.get("rhs_constant", ""), "rhs_constant")
        elif rhs_type == RHS_INSTRUMENT:
            rhs, rhs_attribute = self._instrument(form, "rhs"), self._attribute(form, "rhs")
        else:
            raise input_error("Invalid `rhs_type`: constant or instrument.")
        basket = None
        if kind == ALERT_ATO:
            basket = self._basket(form.get("basket", ""))
        return Condition(name, kind, lhs, attribute, operator, rhs_type, constant, rhs, rhs_attribute, basket)

    def create(self, app: App, user_id: str, form: dict[str, str]) -> Alert:
        condition = self._parse(form)
        now = self.engine.clock.now()
        alert = Alert(str(uuid.uuid4()), user_id, app, condition, now, now)
        self.alerts[alert.uuid] = alert
        return alert

    def get(self, user_id: str, alert_uuid: str) -> Alert:
        alert = self.alerts.get(alert_uuid)
        if alert is None or alert.user_id != user_id:
            raise KiteError("GeneralException", "Alert not found.", 404)
        return alert

    def modify(self, user_id: str, alert_uuid: str, form: dict[str, str]) -> Alert:
        """Replace the alert's whole condition (as the docs advise: the full set is sent again); a
        modified alert is enabled again."""
        alert = self.get(user_id, alert_uuid)
        if alert.status == ALERT_DELETED:
            raise input_error("Alert is deleted and cannot be modified.")
        alert.condition = self._parse(form)
        alert.status, alert.disabled_reason = ALERT_ENABLED, ""
        alert.updated = self.engine.clock.now()
        return alert

    def delete(self, user_id: str, uuids: list[str]) -> None:
        """Soft-delete every one, or none when one is unknown."""
        if not uuids:
            raise input_error("Missing `uuid`.")
        alerts = [self.get(user_id, u) for u in uuids]
        now = self.engine.clock.now()
        for alert in alerts:
            alert.status, alert.updated = ALERT_DELETED, now

    def listed(self, user_id: str, status: str = "", page: str = "", page_size: str = "") -> list[dict[str, Any]]:
        if status and status not in ALERT_STATUSES:
            raise input_error("Invalid `status`: enabled, disabled or deleted.")
        rows = [
            a.to_json()
            for a in reversed(self.alerts.values())
            if a.user_id == user_id and (not status or a.status == status)
        ]
        if not page and not page_size:
            return rows
        number = _positive_int(page or "1", "page")
        size = _positive_int(page_size or "20", "page_size")
        return rows[(number - 1) * size : number * size]

    def history(self, user_id: str, alert_uuid: str) -> list[dict[str, Any]]:
        return list(self.get(user_id, alert_uuid).history)

    # Evaluation -------------------------------------------------------------------------------

    def check(self) -> None:
        """Trigger every enabled alert whose condition holds at the current prices."""
        now = self.engine.clock.now()
        for alert in self.alerts.values():
            c = alert.condition
            if alert.status != ALERT_ENABLED or not self.engine.hours.is_open(c.lhs.exchange, now):
                continue
            lhs = self.engine.quote(c.lhs)
            rhs = self.engine.quote(c.rhs).last_price if c.rhs else c.rhs_constant
            if alert_holds(c.operator, lhs.last_price, rhs):
                self._trigger(alert, rhs, now)
                self.changed()

    def _trigger(self, alert: Alert, rhs: Decimal, now: datetime) -> None:
        c = alert.condition
        right = f'{c.rhs_attribute}("{c.rhs.exchange}:{c.rhs.tradingsymbol}")' if c.rhs else str(kite_number(rhs))
        quotes = [c.lhs] + ([c.rhs] if c.rhs else [])
        order_meta = self._place_basket(alert) if c.basket is not None else None
        alert.history.append(
            {
                "uuid": alert.uuid,
                "type": c.kind,
                "condition": alert_condition_text(c.attribute, c.lhs.exchange, c.lhs.tradingsymbol, c.operator, right),
                "created_at": kite_timestamp(now),
                "order_meta": order_meta,
                "meta": [self._snapshot(i) for i in quotes],
            }
        )
        alert.alert_count += 1
        alert.status, alert.disabled_reason, alert.updated = ALERT_DISABLED, "triggered", now

    def _place_basket(self, alert: Alert) -> list[dict[str, Any]]:
        """Each basket item placed as a regular order; what became of each (Kite leaves the shape of
        `order_meta` undocumented; this one says, per item, its order id or why it failed)."""
        results = []
        assert alert.condition.basket is not None
        for item in alert.condition.basket["items"]:
            params = item["params"]
            form = {
                k: str(v)
                for k, v in params.items()
                if k in ("transaction_type", "quantity", "product", "order_type", "validity", "price", "trigger_price")
                and v not in (None, "")
            }
            form.update(exchange=str(item["exchange"]), tradingsymbol=str(item["tradingsymbol"]))
            if form["order_type"] in ("MARKET", "SL-M"):  # ATO places market orders with protection (Kite UI)
                form["market_protection"] = str(params.get("market_protection") or -1)
            result: dict[str, Any] = {"id": item["id"], "order_id": "", "status": "success", "error": ""}
            try:
                result["order_id"] = self.engine.place(
                    alert.app, alert.user_id, str(params.get("variety") or "regular"), form, counted=False
                )
            except KiteError as exc:
                result.update(status="failed", error=exc.message)
            results.append(result)
        return results

    def _snapshot(self, instrument: SimInstrument) -> dict[str, Any]:
        q = self.engine.quote(instrument)
        return {
            "instrument_token": instrument.instrument_token,
            "tradingsymbol": instrument.tradingsymbol,
            "exchange": instrument.exchange,
            "timestamp": kite_timestamp(q.at),
            "last_price": kite_number(q.last_price),
            "ohlc": {k: kite_number(getattr(q, k)) for k in ("open", "high", "low", "close")},
            "last_quantity": q.last_quantity,
            "buy_quantity": q.buy_quantity,
            "sell_quantity": q.sell_quantity,
            "volume": q.volume,
            "average_price": kite_number(q.average_price),
            "oi": q.oi,
            "lower_circuit_limit": kite_number(q.lower_circuit),
            "upper_circuit_limit": kite_number(q.upper_circuit),
        }

"""Kite's alerts (simple and ATO) for one account, typed: what is sent is an `AlertSpec`, what comes
back are `AlertRow`s and `AlertHistoryRow`s, prices as Decimals. Kite counts `/alerts` among "all
other endpoints" (like `/gtt`), so every method is paced as EndpointClass.OTHER."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import written
from kite_gateway.kite.gtt import kite_time
from kite_gateway.kite.limits import EndpointClass
from kite_wire import ALERT_ATO, RHS_CONSTANT, kite_decimal, kite_number

ALERT_RATE_CLASS = EndpointClass.OTHER  # the one rate class of every /alerts endpoint


@dataclass(frozen=True)
class BasketOrder:
    """An order an ATO alert places when it triggers."""

    exchange: str
    tradingsymbol: str
    transaction_type: str
    quantity: int
    product: str
    order_type: str
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    variety: str = "regular"
    validity: str = "DAY"

    def kite_item(self) -> dict[str, Any]:
        return {
            "type": "insert",
            "exchange": self.exchange,
            "tradingsymbol": self.tradingsymbol,
            "weight": 10000,  # what Kite's docs send (its meaning is undocumented)
            "params": {
                "variety": self.variety,
                "transaction_type": self.transaction_type,
                "product": self.product,
                "order_type": self.order_type,
                "validity": self.validity,
                "quantity": self.quantity,
                "price": kite_number(self.price),
                "trigger_price": kite_number(self.trigger_price),
            },
        }


@dataclass(frozen=True)
class AlertSpec:
    """An alert as create_alert and modify_alert send it (the full set, as Kite's docs advise)."""

    name: str
    kind: str  # "simple" or "ato"
    lhs_exchange: str
    lhs_tradingsymbol: str
    lhs_attribute: str
    operator: str
    rhs_type: str  # "constant" or "instrument"
    rhs_constant: Decimal = Decimal(0)
    rhs_exchange: str = ""
    rhs_tradingsymbol: str = ""
    rhs_attribute: str = ""
    basket: tuple[BasketOrder, ...] = ()

    def kite_form(self) -> dict[str, Any]:
        form: dict[str, Any] = {
            "name": self.name,
            "type": self.kind,
            "lhs_exchange": self.lhs_exchange,
            "lhs_tradingsymbol": self.lhs_tradingsymbol,
            "lhs_attribute": self.lhs_attribute,
            "operator": self.operator,
            "rhs_type": self.rhs_type,
        }
        if self.rhs_type == RHS_CONSTANT:
            form["rhs_constant"] = str(self.rhs_constant)
        else:
            form.update(rhs_exchange=self.rhs_exchange, rhs_tradingsymbol=self.rhs_tradingsymbol,
                        rhs_attribute=self.rhs_attribute)  # fmt: skip
        if self.kind == ALERT_ATO:
            items = [order.kite_item() for order in self.basket]
            form["basket"] = json.dumps({"name": self.name, "type": "alert", "tags": [], "items": items})
        return form


@dataclass(frozen=True)
class AlertRow:
    """An alert as Kite reports it. Times are Kite's IST wall-clock times."""

    uuid: str
    name: str
    kind: str
    status: str  # "enabled", "disabled" or "deleted"
    disabled_reason: str
    lhs_exchange: str
    lhs_tradingsymbol: str
    lhs_attribute: str
    operator: str
    rhs_type: str
    rhs_constant: Decimal
    rhs_exchange: str
    rhs_tradingsymbol: str
    rhs_attribute: str
    alert_count: int
    basket: tuple[BasketOrder, ...]
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class AlertOrderResult:
    """What became of one basket order when an ATO alert triggered."""

    order_id: str
    status: str
    error: str


@dataclass(frozen=True)
class AlertQuote:
    exchange: str
    tradingsymbol: str
    last_price: Decimal


@dataclass(frozen=True)
class AlertHistoryRow:
    """One triggering of an alert: the condition, the quotes seen and (ATO) the orders placed."""

    uuid: str
    kind: str
    condition: str
    created_at: datetime | None
    orders: tuple[AlertOrderResult, ...]
    quotes: tuple[AlertQuote, ...]


def _basket_order(item: Mapping[str, Any]) -> BasketOrder:
    params = item.get("params") or {}
    return BasketOrder(
        exchange=str(item.get("exchange") or ""),
        tradingsymbol=str(item.get("tradingsymbol") or ""),
        transaction_type=str(params.get("transaction_type") or ""),
        quantity=int(params.get("quantity") or 0),
        product=str(params.get("product") or ""),
        order_type=str(params.get("order_type") or ""),
        price=kite_decimal(params.get("price")),
        trigger_price=kite_decimal(params.get("trigger_price")),
        variety=str(params.get("variety") or "regular"),
        validity=str(params.get("validity") or "DAY"),
    )


def alert_row(row: Mapping[str, Any]) -> AlertRow:
    basket = row.get("basket") or {}
    return AlertRow(
        uuid=str(row.get("uuid") or ""),
        name=str(row.get("name") or ""),
        kind=str(row.get("type") or ""),
        status=str(row.get("status") or ""),
        disabled_reason=str(row.get("disabled_reason") or ""),
        lhs_exchange=str(row.get("lhs_exchange") or ""),
        lhs_tradingsymbol=str(row.get("lhs_tradingsymbol") or ""),
        lhs_attribute=str(row.get("lhs_attribute") or ""),
        operator=str(row.get("operator") or ""),
        rhs_type=str(row.get("rhs_type") or ""),
        rhs_constant=kite_decimal(row.get("rhs_constant")),
        rhs_exchange=str(row.get("rhs_exchange") or ""),
        rhs_tradingsymbol=str(row.get("rhs_tradingsymbol") or ""),
        rhs_attribute=str(row.get("rhs_attribute") or ""),
        alert_count=int(row.get("alert_count") or 0),
        basket=tuple(_basket_order(item) for item in basket.get("items") or []),
        created_at=kite_time(row.get("created_at")),
        updated_at=kite_time(row.get("updated_at")),
    )


def alert_history_row(row: Mapping[str, Any]) -> AlertHistoryRow:
    meta = row.get("order_meta")
    orders = meta if isinstance(meta, list) else []  # Kite leaves its shape undocumented
    return AlertHistoryRow(
        uuid=str(row.get("uuid") or ""),
        kind=str(row.get("type") or ""),
        condition=str(row.get("condition") or ""),
        created_at=kite_time(row.get("created_at")),
        orders=tuple(
            AlertOrderResult(str(o.get("order_id") or ""), str(o.get("status") or ""), str(o.get("error") or ""))
            for o in orders
            if isinstance(o, Mapping)
        ),
        quotes=tuple(
            AlertQuote(
                str(q.get("exchange") or ""), str(q.get("tradingsymbol") or ""), kite_decimal(q.get("last_price"))
            )
            for q in row.get("meta") or []
            if isinstance(q, Mapping)
        ),
    )


def alert_not_found(account_id: str, alert_uuid: str) -> GatewayError:
    return GatewayError(
        Status.NOT_FOUND,
        Reason.ORDER_NOT_FOUND,
        f"no alert {alert_uuid} on account {account_id}; ListKiteAlerts shows the account's alerts",
        {"account_id": account_id, "alert_uuid": alert_uuid},
    )


class KiteAlerts:
    """The alerts endpoints of one account's KiteCaller."""

    def __init__(self, kite: KiteCaller) -> None:
        self.kite = kite

    async def create_alert(self, spec: AlertSpec, before_send: Callable[[], None] | None = None) -> AlertRow:
        """The new alert. Never retried (Kite has no idempotency key for alerts). `before_send` runs
        at the moment of sending (after any wait for the rate limiter) and refuses the call by raising."""
        call = self.kite.write(ALERT_RATE_CLASS, "create_alert", before_send=before_send, **spec.kite_form())
        return alert_row(await written(call, self.kite.account_id))

    async def modify_alert(
        self, alert_uuid: str, spec: AlertSpec, before_send: Callable[[], None] | None = None
    ) -> AlertRow:
        with self._one(alert_uuid):
            row = await self.kite.change(
                ALERT_RATE_CLASS, "modify_alert", alert_uuid, before_send=before_send, **spec.kite_form()
            )
        return alert_row(row)

    async def delete_alerts(self, alert_uuids: Sequence[str]) -> None:
        with self._one(", ".join(alert_uuids)):
            await self.kite.change(ALERT_RATE_CLASS, "delete_alerts", list(alert_uuids))

    async def get_alerts(self, status: str = "", page: int = 0, page_size: int = 0) -> list[AlertRow]:
        rows: Sequence[Mapping[str, Any]] = await self.kite.read(
            ALERT_RATE_CLASS, "get_alerts", status or None, page or None, page_size or None
        )
        return [alert_row(row) for row in rows]

    async def get_alert(self, alert_uuid: str) -> AlertRow:
        with self._one(alert_uuid):
            return alert_row(await self.kite.read(ALERT_RATE_CLASS, "get_alert", alert_uuid))

    async def get_alert_history(self, alert_uuid: str) -> list[AlertHistoryRow]:
        with self._one(alert_uuid):
            rows = await self.kite.read(ALERT_RATE_CLASS, "get_alert_history", alert_uuid)
        return [alert_history_row(row) for row in rows or []]

    @contextmanager
    def _one(self, alert_uuid: str) -> Iterator[None]:
        """A call naming alerts, with Kite's "Alert not found" (404) as NOT_FOUND naming them."""
        try:
            yield
        except GatewayError as exc:
            if exc.code == Status.NOT_FOUND or exc.metadata.get("kite_http_status") == "404":
                raise alert_not_found(self.kite.account_id, alert_uuid) from None
            raise

"""Kite's GTT (good till triggered) endpoints for one account, typed: what is sent is a `GttOrder`,
what comes back are `GttRow`s, and the rate class is decided here once for every method. Kite
counts `/gtt` (reads and writes alike) among "all other endpoints", not order placement, so every
method is paced as EndpointClass.OTHER (README, "Limits")."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.caller import KiteCaller
from kite_gateway.kite.errors import written
from kite_gateway.kite.limits import EndpointClass
from kite_wire import kite_decimal, kite_number, parse_kite_timestamp

# The one rate class of every /gtt endpoint (see the module's doc).
GTT_RATE_CLASS = EndpointClass.OTHER
SINGLE, TWO_LEG = "single", "two-leg"  # Kite's trigger types


@dataclass(frozen=True)
class GttLeg:
    """An order a GTT places when it triggers (Kite's GTT orders are LIMIT orders)."""

    transaction_type: str
    quantity: int
    product: str
    price: Decimal
    order_type: str = "LIMIT"


@dataclass(frozen=True)
class GttOrder:
    """A trigger as place_gtt and modify_gtt send it: the condition and the orders it places."""

    trigger_type: str  # SINGLE or TWO_LEG
    exchange: str
    tradingsymbol: str
    trigger_values: tuple[Decimal, ...]
    last_price: Decimal
    legs: tuple[GttLeg, ...]

    def kite_arguments(self) -> dict[str, Any]:
        """The official client's arguments (numbers as it serialises them)."""
        return {
            "trigger_type": self.trigger_type,
            "tradingsymbol": self.tradingsymbol,
            "exchange": self.exchange,
            "trigger_values": [kite_number(v) for v in self.trigger_values],
            "last_price": kite_number(self.last_price),
            "orders": [
                {
                    "transaction_type": leg.transaction_type,
                    "quantity": leg.quantity,
                    "order_type": leg.order_type,
                    "product": leg.product,
                    "price": kite_number(leg.price),
                }
                for leg in self.legs
            ],
        }


@dataclass(frozen=True)
class GttLegResult:
    """What happened when a trigger fired for one of its orders."""

    order_id: str
    status: str  # Kite's placement status: "success" or "failed"
    rejection_reason: str
    triggered_at: datetime | None


@dataclass(frozen=True)
class GttRowLeg:
    transaction_type: str
    quantity: int
    product: str
    price: Decimal
    result: GttLegResult | None  # None until the trigger fired


@dataclass(frozen=True)
class GttRow:
    """A trigger as Kite reports it (get_gtts, get_gtt). Times are Kite's IST wall-clock times."""

    gtt_id: int
    status: str  # Kite's: "active", "triggered", "disabled", "expired", "cancelled", "rejected", "deleted"
    trigger_type: str
    exchange: str
    tradingsymbol: str
    last_price: Decimal
    trigger_values: tuple[Decimal, ...]
    legs: tuple[GttRowLeg, ...]
    created_at: datetime | None
    updated_at: datetime | None
    expires_at: datetime | None


def kite_time(value: Any) -> datetime | None:
    """A Kite time (`yyyy-mm-dd[ hh:mm:ss]` in IST, or a datetime); None when absent or not one."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) in (10, 19):
        try:
            return parse_kite_timestamp(value)
        except ValueError:
            return None
    return None


def _leg_result(result: Mapping[str, Any] | None) -> GttLegResult | None:
    if not result:
        return None
    outcome = result.get("order_result") or {}
    return GttLegResult(
        order_id=str(outcome.get("order_id") or ""),
        status=str(outcome.get("status") or ""),
        rejection_reason=str(outcome.get("rejection_reason") or ""),
        triggered_at=kite_time(result.get("timestamp")),
    )


def gtt_row(row: Mapping[str, Any]) -> GttRow:
    """One trigger of Kite's JSON as a GttRow (absent fields as empty values)."""
    condition = row.get("condition") or {}
    legs = tuple(
        GttRowLeg(
            transaction_type=str(order.get("transaction_type") or ""),
            quantity=int(order.get("quantity") or 0),
            product=str(order.get("product") or ""),
            price=kite_decimal(order.get("price")),
            result=_leg_result(order.get("result")),
        )
        for order in row.get("orders") or []
    )
    return GttRow(
        gtt_id=int(row.get("id") or 0),
        status=str(row.get("status") or ""),
        trigger_type=str(row.get("type") or ""),
        exchange=str(condition.get("exchange") or ""),
        tradingsymbol=str(condition.get("tradingsymbol") or ""),
        last_price=kite_decimal(condition.get("last_price")),
        trigger_values=tuple(kite_decimal(v) for v in condition.get("trigger_values") or []),
        legs=legs,
        created_at=kite_time(row.get("created_at")),
        updated_at=kite_time(row.get("updated_at")),
        expires_at=kite_time(row.get("expires_at")),
    )


def gtt_not_found(account_id: str, gtt_id: int) -> GatewayError:
    return GatewayError(
        Status.NOT_FOUND,
        Reason.ORDER_NOT_FOUND,
        f"no GTT {gtt_id} on account {account_id}; ListGtts shows the account's triggers",
        {"account_id": account_id, "gtt_id": str(gtt_id)},
    )


def _is_not_found(exc: GatewayError) -> bool:
    """Kite's "Trigger not found" (404), however it was classified."""
    return exc.code == Status.NOT_FOUND or exc.metadata.get("kite_http_status") == "404"


class KiteGtt:
    """The GTT endpoints of one account's KiteCaller."""

    def __init__(self, kite: KiteCaller) -> None:
        self.kite = kite

    async def place_gtt(self, order: GttOrder) -> int:
        """Kite's trigger id. Never retried: a definite refusal is a GatewayError, a failure that may
        nevertheless have placed it raises KiteOutcomeUnknown."""
        call = self.kite.write(GTT_RATE_CLASS, "place_gtt", **order.kite_arguments())
        reply: Mapping[str, Any] = await written(call, self.kite.account_id)
        return int(reply["trigger_id"])

    async def modify_gtt(self, gtt_id: int, order: GttOrder, before_send: Callable[[], None] | None = None) -> None:
        """Replace a trigger's condition and orders. `before_send` runs at the moment of sending
        (after any wait for the rate limiter) and refuses the call by raising."""
        with self._one(gtt_id):
            await self.kite.change(
                GTT_RATE_CLASS, "modify_gtt", gtt_id, before_send=before_send, **order.kite_arguments()
            )

    async def delete_gtt(self, gtt_id: int) -> None:
        with self._one(gtt_id):
            await self.kite.change(GTT_RATE_CLASS, "delete_gtt", gtt_id)

    async def get_gtts(self) -> list[GttRow]:
        """The account's triggers, as Kite lists them."""
        rows: Sequence[Mapping[str, Any]] = await self.kite.read(GTT_RATE_CLASS, "get_gtts")
        return [gtt_row(row) for row in rows]

    async def get_gtt(self, gtt_id: int) -> GttRow:
        with self._one(gtt_id):
            row: Mapping[str, Any] = await self.kite.read(GTT_RATE_CLASS, "get_gtt", gtt_id)
        return gtt_row(row)

    @contextmanager
    def _one(self, gtt_id: int) -> Iterator[None]:
        """A call on one trigger, with Kite's "Trigger not found" (404) as NOT_FOUND naming it."""
        try:
            yield
        except GatewayError as exc:
            if _is_not_found(exc):
                raise gtt_not_found(self.kite.account_id, gtt_id) from None
            raise

"""Defence in depth against a second order for one client_order_id.

The placement rules (kite_gateway/core/orders/placement.py) never re-send an order while an earlier
attempt could still reach Kite, but a request held in the network longer than the quarantine can
still arrive. Whenever the gateway sees an order carrying the tag of a client_order_id whose order
is another one (an order update, a reconciliation, a book read), it treats it as a duplicate: if it
is still open it is cancelled at once; either way it is recorded in the audit trail, counted
(`kite_gateway_duplicate_orders_total`) and reported to order-update subscribers as an update with
source GATEWAY and `duplicate` set. A duplicate that has already filled is not traded back: that
would be a new trading decision, which belongs to the caller.

An autosliced order's children all carry its tag: they are the record's own orders, never duplicates
of each other (kite_gateway/core/orders/autoslice.py). An order of another autoslice parent with that
tag is a duplicate like any other.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from kite_gateway.core.orders import autoslice
from kite_gateway.core.orders.status import is_final
from kite_gateway.errors import GatewayError
from kite_gateway.kite import KiteOrders
from kite_gateway.observability import DUPLICATE_ORDERS
from kite_gateway.storage import AuditLog, DuplicateLog, IdempotencyStore, Record

log = structlog.get_logger(__name__)

PRINCIPAL = "gateway"
AUDIT_ACTION_DUPLICATE_ORDER = 9  # kite_gateway.v1.AuditAction of the audit entry (a test holds them equal)


class DuplicateAction(enum.IntEnum):
    """What the gateway did about a duplicate: kite_gateway.v1.DuplicateAction without its prefix,
    by the same numbers (a test holds the two equal)."""

    UNSPECIFIED = 0
    CANCELLED = 1
    CANCEL_FAILED = 2
    ALREADY_FILLED = 3
    NONE_NEEDED = 4


@dataclass(frozen=True)
class DuplicateFound:
    """The event told to order-update subscribers: which order duplicates which, and what was done."""

    client_order_id: str
    kept_order_id: str
    duplicate_order_id: str
    action: DuplicateAction
    message: str

    def marker(self) -> dict[str, Any]:
        """The event as the stored update's marker: the fields of kite_gateway.v1.DuplicateOrder."""
        return {
            "client_order_id": self.client_order_id,
            "kept_order_id": self.kept_order_id,
            "duplicate_order_id": self.duplicate_order_id,
            "action": int(self.action),
            "message": self.message,
        }


# (account_id, the duplicate's order as Kite last reported it, DuplicateFound.marker()) -> stored for subscribers
Emit = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[None]]
Found = Callable[[str, DuplicateFound], None]  # (account_id, the duplicate): told at once (alerts), must not block


def gateway_tag(order: Mapping[str, Any]) -> str | None:
    """The gateway's tag on an order (it starts with "kg"), if any."""
    for tag in [order.get("tag"), *(order.get("tags") or [])]:
        if isinstance(tag, str) and tag.startswith("kg"):
            return tag
    return None


class DuplicateOrders:
    def __init__(self, store: IdempotencyStore, duplicates: DuplicateLog, audit: AuditLog, emit: Emit) -> None:
        self.store = store
        self.duplicates = duplicates
        self.audit = audit
        self.emit = emit
        self._handling: set[tuple[str, str]] = set()
        # Told of each duplicate once it is recorded, before the audit entry and the subscribers'
        # update (a database failing then still leaves the alert).
        self.listeners: list[Found] = []

    async def scan(self, kite: KiteOrders, rows: Sequence[Mapping[str, Any]]) -> None:
        """Look at a book read: every gateway tag on more than one order is checked."""
        seen: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            tag = gateway_tag(row)
            if tag and not row.get("parent_order_id"):
                seen.setdefault(tag, []).append(row)
        for orders in seen.values():
            if len(orders) > 1:
                await self.observe_all(kite, orders)

    async def observe_all(self, kite: KiteOrders, orders: Sequence[Mapping[str, Any]]) -> None:
        for order in orders:
            await self.observe(kite, order)

    async def observe(self, kite: KiteOrders, order: Mapping[str, Any]) -> None:
        """Handle `order` if it is a duplicate: it carries a client_order_id's tag, and that
        client_order_id's order is another one."""
        tag, order_id = gateway_tag(order), str(order.get("order_id") or "")
        if tag is None or not order_id or order.get("parent_order_id"):
            return
        key = (kite.account_id, order_id)
        if key in self._handling:
            return
        record = await self.store.by_tag(kite.account_id, tag)
        if record is None or record.kind != "order" or not record.order_id or record.order_id == order_id:
            return
        if record.slices and autoslice.belongs(autoslice.decode(record.slices), order):
            return  # a sibling of the autoslice the caller was told of
        if await self.duplicates.known(kite.account_id, order_id):
            return
        self._handling.add(key)
        try:
            await self._handle(kite, record, record.order_id, order)
        finally:
            self._handling.discard(key)

    async def _handle(self, kite: KiteOrders, record: Record, kept: str, order: Mapping[str, Any]) -> None:
        started = time.perf_counter()
        order_id = str(order["order_id"])
        current: dict[str, Any] = dict(order)
        try:  # Kite's own view of the order now, not the update's
            history = await kite.order_history(order_id)
            if history:
                current.update(history[-1])
        except GatewayError:
            pass
        status = str(current.get("status") or "")
        filled = int(current.get("filled_quantity") or 0)
        what = f"order {order_id} duplicates order {kept} of client_order_id {record.client_order_id!r}"
        code = 0
        if not is_final(status):
            try:
                await kite.cancel_order(current.get("variety") or "regular", order_id)
                action = DuplicateAction.CANCELLED
                message = f"{what}; it was open and the gateway cancelled it"
                if filled:
                    message += f" ({filled} already filled: the position holds them twice)"
            except GatewayError as exc:
                action, code = DuplicateAction.CANCEL_FAILED, int(exc.code)
                message = f"{what}; cancelling it failed ({exc.message}): cancel or offset it yourself"
        elif filled:
            action = DuplicateAction.ALREADY_FILLED
            message = (
                f"{what}; it had already filled {filled} before the gateway saw it: the position holds them twice "
                "and the gateway does not trade to undo that"
            )
        else:
            action = DuplicateAction.NONE_NEEDED
            message = f"{what}; it had already ended ({status}) without a fill"
        if not await self.duplicates.add(kite.account_id, order_id, record.client_order_id, kept, action, message):
            return
        DUPLICATE_ORDERS.labels(kite.account_id, f"DUPLICATE_ACTION_{action.name}").inc()
        log.error("order.duplicate", account_id=kite.account_id, client_order_id=record.client_order_id,
                  kept_order_id=kept, duplicate_order_id=order_id, action=int(action), status=status)  # fmt: skip
        event = DuplicateFound(record.client_order_id, kept, order_id, action, message)
        for listener in self.listeners:
            try:
                listener(kite.account_id, event)
            except Exception:  # a failing listener must not stop the audit entry or the subscribers' update
                log.exception("order.duplicate_listener_failed", account_id=kite.account_id)
        await self.audit.append(
            self.audit.now(), PRINCIPAL, kite.account_id, AUDIT_ACTION_DUPLICATE_ORDER,
            record.client_order_id, order_id, json.dumps({"kept_order_id": kept, "duplicate_order_id": order_id}),
            code, message, (time.perf_counter() - started) * 1000,
        )  # fmt: skip
        await self.emit(kite.account_id, current, event.marker())

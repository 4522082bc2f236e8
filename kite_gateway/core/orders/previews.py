"""Previews that place nothing: the margins of orders (each, and as a basket) and the charges of
fills (Kite's virtual contract note)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kite_gateway.core.orders.requests import Fill, OrderParams
from kite_gateway.core.orders.validation import order_kwargs
from kite_gateway.errors import invalid
from kite_gateway.kite import (
    BasketMargins,
    ContractNoteOrder,
    ContractNoteRow,
    KiteOrders,
    KiteValue,
    MarginOrder,
    MarginRow,
    Number,
)
from kite_wire import kite_number

MAX_PREVIEW_ORDERS = 200


def check_count(count: int, field: str, what: str) -> None:
    """INVALID_ARGUMENT unless a preview has 1 to MAX_PREVIEW_ORDERS orders (or fills)."""
    if not 1 <= count <= MAX_PREVIEW_ORDERS:
        raise invalid(field, f"1 to {MAX_PREVIEW_ORDERS} {what}")


@dataclass(frozen=True)
class MarginPreview:
    orders: list[MarginRow]  # each order's margin, in the request's order
    basket: BasketMargins


@dataclass(frozen=True)
class FillCharges:
    order_id: str
    note: ContractNoteRow


def margin_order(params: OrderParams, default_protection: Decimal, field: str) -> MarginOrder:
    """An order (validated as for placing it) in the form of Kite's margin calculator."""
    kwargs = order_kwargs(params, default_protection, field)
    return MarginOrder(
        exchange=str(kwargs["exchange"]),
        tradingsymbol=str(kwargs["tradingsymbol"]),
        transaction_type=str(kwargs["transaction_type"]),
        variety=str(kwargs["variety"]),
        product=str(kwargs["product"]),
        order_type=str(kwargs["order_type"]),
        quantity=int(kwargs["quantity"]),
        price=_number(kwargs.get("price")),
        trigger_price=_number(kwargs.get("trigger_price")),
    )


def _number(value: KiteValue | None) -> Number:
    return value if isinstance(value, int | float) else 0


async def margins(
    kite: KiteOrders, orders: Sequence[OrderParams], default_protection: Decimal, consider_positions: bool
) -> MarginPreview:
    """`orders` are the request's ("orders[i]" in its fields; check_count has held their number)."""
    rows = [margin_order(params, default_protection, f"orders[{i}]") for i, params in enumerate(orders)]
    each = await kite.order_margins(rows)
    basket = await kite.basket_order_margins(rows, consider_positions)
    return MarginPreview(each, basket)


def contract_note_order(i: int, fill: Fill) -> ContractNoteOrder:
    if fill.average_price <= 0 or fill.quantity <= 0:
        raise invalid(f"fills[{i}]", "quantity and average_price must be positive")
    return ContractNoteOrder(
        order_id=fill.order_id or str(i),
        exchange=fill.listing.exchange,
        tradingsymbol=fill.listing.tradingsymbol,
        transaction_type=fill.transaction_type,
        variety=fill.variety,
        product=fill.product,
        order_type=fill.order_type,
        quantity=fill.quantity,
        average_price=kite_number(fill.average_price),
    )


async def charges(kite: KiteOrders, fills: Sequence[Fill]) -> list[FillCharges]:
    """The charges of each fill, in the request's order."""
    rows = [contract_note_order(i, fill) for i, fill in enumerate(fills)]
    notes = await kite.virtual_contract_note(rows)
    return [FillCharges(row["order_id"], note) for row, note in zip(rows, notes, strict=False)]

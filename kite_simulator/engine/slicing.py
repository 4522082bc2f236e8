"""Kite's order slicing (`autoslice=true` on `POST /orders/{variety}`): a quantity above the freeze
limit is split into child orders of at most the freeze quantity (in whole lots), at most 10 of them,
and Kite answers its "v2" body: a parent `order_id` (an id that names no order) and `children`, one
per slice, each `{"order_id": ...}` or `{"error": {code, error_type, message, data}}` (a slice
refused after others were placed; a malformed order is refused whole, nothing placed). Each child
carries the tags `autoslice` and `autoslice:<parent order_id>`, and counts as an order.

Sources (../shared/kite-notes.md §4.2, kite-alerts-and-rules.md §2, the kiteconnect-mocks
`autoslice_response.json` and `orders.json`): the shape, the tags and the 10-slice cap. The refusal
of a quantity too small to slice reads as Kite's does on the forum ("Quantity should be greater than
or equal to 3510 for order slicing." for NIFTY with a 1,755 freeze, i.e. two full slices); the texts
of the other refusals are the simulator's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kite_simulator.engine import form as fields
from kite_simulator.engine.trading import TradingEngine
from kite_simulator.errors import KiteError, input_error
from kite_simulator.sessions import App
from kite_wire import VARIETIES, KiteErrorType
from kite_wire import order_rules as rules

MAX_SLICES = rules.MAX_AUTOSLICES  # Kite caps slicing at 10 children
AUTOSLICE_TAG = "autoslice"


def wants_autoslice(form: Mapping[str, str]) -> bool:
    return (form.get("autoslice") or "false").strip().lower() in ("true", "1")


def slices(quantity: int, slice_quantity: int) -> list[int]:
    """`quantity` as full slices and the remainder (each a whole number of lots when both are)."""
    full, rest = divmod(quantity, slice_quantity)
    return [slice_quantity] * full + ([rest] if rest else [])


def place_sliced(
    engine: TradingEngine, app: App, user_id: str, variety: str, form: Mapping[str, str]
) -> dict[str, Any]:
    """Place the order as slices; Kite's v2 body. Refuses (InputException) what cannot be sliced."""
    if variety not in VARIETIES:
        raise input_error("Invalid `variety`.")
    instrument = engine.instrument(form)
    quantity = fields.integer(form, "quantity")
    if variety == "iceberg":
        raise input_error("Order slicing (`autoslice`) cannot be combined with an iceberg order.")
    lot = rules.lot_of(instrument.lot_size)
    if not instrument.freeze_quantity:
        raise input_error(f"Order slicing is not available for {instrument.tradingsymbol}: it has no freeze quantity.")
    if not rules.is_lot_multiple(quantity, instrument.lot_size):
        raise input_error(f"Quantity should be a multiple of lot size ({lot}) for {instrument.tradingsymbol}.")
    slice_quantity = instrument.freeze_quantity // lot * lot
    if quantity < 2 * slice_quantity:
        raise input_error(f"Quantity should be greater than or equal to {2 * slice_quantity} for order slicing.")
    if quantity > MAX_SLICES * slice_quantity:
        raise input_error(
            f"Quantity should be less than or equal to {MAX_SLICES * slice_quantity} for order slicing "
            f"(at most {MAX_SLICES} slices of {slice_quantity})."
        )
    parent = engine.new_order_id()
    tags = (AUTOSLICE_TAG, f"{AUTOSLICE_TAG}:{parent}")
    child_form = {name: value for name, value in form.items() if name != "autoslice"}
    children: list[dict[str, Any]] = []
    for part in slices(quantity, slice_quantity):
        try:
            order_id = engine.place(app, user_id, variety, {**child_form, "quantity": str(part)}, kite_tags=tags)
        except KiteError as exc:
            if not children and exc.error_type == KiteErrorType.INPUT:
                raise  # a malformed order: every slice would be refused alike, so nothing is placed
            error = {"code": exc.http_status, "error_type": exc.error_type, "message": exc.message, "data": exc.data}
            children.append({"error": error})
        else:
            children.append({"order_id": order_id})
    return {"order_id": parent, "children": children}

"""Autosliced orders (OrderParams.autoslice, Kite's `autoslice=true`): what the idempotency record
keeps of them, how a lost answer is rebuilt from Kite's order book, and which orders in the book
are one autoslice's children rather than duplicates of each other.

Kite answers an autoslice with a parent order id (it names no order) and one child per slice, each
an order or Kite's error for that slice; every child carries the gateway's tag (the request's) and
Kite's tags `autoslice` and `autoslice:<parent>`. The record stores the parent and every child
(`encode`), so a retry replays them all and never slices again. When the answer is lost, the book is
read for the gateway's tag: the orders of the oldest parent among them are the answer (`reconciled`);
orders of another parent would be a second placement (a duplicate, cancelled as any other). A slice
Kite refused leaves no order behind, so what the book cannot account for of the quantity is one
child NOT_FOUND (ORDER_NOT_FOUND) saying so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import Autosliced, SliceOutcome, slice_parent

Row = Mapping[str, Any]


def placed_ids(answer: Autosliced) -> list[str]:
    """The children Kite placed, in slice order."""
    return [child.order_id for child in answer.children if child.order_id]


def first_placed(answer: Autosliced, account_id: str) -> str:
    """The order id that stands for the whole autoslice (its first placed child). Kite having
    placed none of the slices is a definite refusal: the first slice's error, saying so."""
    placed = placed_ids(answer)
    if placed:
        return placed[0]
    errors = [child.error for child in answer.children if child.error is not None]
    if not errors:
        raise GatewayError(
            Status.FAILED_PRECONDITION, Reason.KITE_GENERAL_ERROR,
            f"Kite answered the autoslice order of account {account_id} with no children: nothing was placed",
            {"account_id": account_id, "parent_order_id": answer.parent_order_id},
        )  # fmt: skip
    first = errors[0]
    raise GatewayError(
        first.code,
        first.reason,
        f"Kite placed none of the {len(answer.children)} slices (parent order {answer.parent_order_id}); "
        f"the first was refused: {first.message}",
        {**first.metadata, "parent_order_id": answer.parent_order_id},
        retry_after=first.retry_after,
    )


def belongs(answer: Autosliced, row: Row) -> bool:
    """Whether an order of the book is one of this autoslice's children."""
    return slice_parent(row) == answer.parent_order_id or str(row.get("order_id") or "") in placed_ids(answer)


def reconciled(rows: Sequence[Row], quantity: int, account_id: str) -> Autosliced:
    """The autoslice the book shows for a tag (rows oldest first, not empty): the children of the
    oldest parent, and a NOT_FOUND child for any quantity they do not cover."""
    parent = slice_parent(rows[0])
    if parent is None:  # Kite did not slice it: the order stands alone, under no parent
        return Autosliced("", (SliceOutcome(order_id=str(rows[0].get("order_id"))),))
    mine = [row for row in rows if slice_parent(row) == parent]
    children = [SliceOutcome(order_id=str(row.get("order_id"))) for row in mine]
    missing = quantity - sum(int(row.get("quantity") or 0) for row in mine)
    if missing > 0:
        children.append(
            SliceOutcome(
                error=GatewayError(
                    Status.NOT_FOUND,
                    Reason.ORDER_NOT_FOUND,
                    f"Kite's answer to this autoslice order was lost, and its order book shows no slice for {missing} "
                    f"of the {quantity} ordered: a slice Kite refuses leaves no order behind, so Kite most likely "
                    "refused the rest (its reason was in the lost answer). Nothing will be sent again for this "
                    "client_order_id; place the rest with a new one if you still want it",
                    {"account_id": account_id, "parent_order_id": parent, "missing_quantity": str(missing)},
                )
            )
        )
    return Autosliced(parent, tuple(children))


def encode(answer: Autosliced) -> str:
    """As the idempotency record stores it."""
    children: list[dict[str, Any]] = []
    for child in answer.children:
        if child.error is None:
            children.append({"order_id": child.order_id})
        else:
            error = child.error
            children.append({"error": {"code": int(error.code), "reason": int(error.reason), "message": error.message,
                                       "metadata": error.metadata, "retry_after": error.retry_after}})  # fmt: skip
    return json.dumps({"parent_order_id": answer.parent_order_id, "children": children}, sort_keys=True)


def decode(text: str) -> Autosliced:
    data = json.loads(text)
    children = []
    for child in data["children"]:
        if "error" in child:
            error = child["error"]
            children.append(
                SliceOutcome(
                    error=GatewayError(
                        Status(error["code"]),
                        Reason(error["reason"]),
                        error["message"],
                        dict(error["metadata"]),
                        retry_after=error["retry_after"],
                    )
                )
            )
        else:
            children.append(SliceOutcome(order_id=str(child["order_id"])))
    return Autosliced(str(data["parent_order_id"]), tuple(children))

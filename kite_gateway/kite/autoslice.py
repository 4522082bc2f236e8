"""Kite's answer to an order placed with `autoslice=true` (its "v2" body), typed: the parent order
id (which names no order) and one child per slice, each the order Kite placed or the error Kite
gave that slice (`{"code", "error_type", "message", "data"}`, mapped as a raised error would be).
Sources: kiteconnect-mocks `autoslice_response.json`, gokiteconnect `OrderResponse`, pykiteconnect
5.2.2 `place_autoslice_order` (which returns this whole `data` dict)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.errors import KiteOutcomeUnknown, kite_refusal

AUTOSLICE_TAG = "autoslice"  # Kite tags every child "autoslice" and "autoslice:<parent order id>"


@dataclass(frozen=True)
class SliceOutcome:
    """One child: Kite's order id, or Kite's error for that slice (never both)."""

    order_id: str = ""
    error: GatewayError | None = None


@dataclass(frozen=True)
class Autosliced:
    parent_order_id: str
    children: tuple[SliceOutcome, ...]


def slice_parent(row: Mapping[str, Any]) -> str | None:
    """The autoslice parent order id an order (as Kite's book shows it) carries in its tags, if any."""
    for tag in row.get("tags") or ():
        if isinstance(tag, str) and tag.startswith(f"{AUTOSLICE_TAG}:"):
            return tag.removeprefix(f"{AUTOSLICE_TAG}:")
    return None


def autosliced(data: object, account_id: str) -> Autosliced:
    """Kite's v2 `data` as Autosliced. A success without a parent order id and children says
    nothing of what Kite placed: KiteOutcomeUnknown, so the order book is read for the tag. (A
    version of Kite's order docs says an autoslice is answered "in the same format (single order
    object)", the children only in the book: such an answer is rebuilt from the book this way.)"""
    if not isinstance(data, Mapping) or not data.get("order_id") or not isinstance(data.get("children"), list):
        error = GatewayError(
            Status.UNAVAILABLE,
            Reason.KITE_GENERAL_ERROR,
            f"Kite's answer to an autoslice order of account {account_id} has no parent order_id and children",
            {"account_id": account_id},
            retry_after=1.0,
        )
        raise KiteOutcomeUnknown(error, "unreadable autoslice answer")
    children = []
    for child in data["children"]:
        child = child if isinstance(child, Mapping) else {}
        refused = child.get("error")
        if child.get("order_id"):
            children.append(SliceOutcome(order_id=str(child["order_id"])))
        elif isinstance(refused, Mapping):
            kind = str(refused.get("error_type") or "GeneralException")
            status = int(refused.get("code") or 0)
            message = str(refused.get("message") or "")
            children.append(SliceOutcome(error=kite_refusal(kind, message, status, account_id)))
        else:
            children.append(SliceOutcome(error=kite_refusal("DataException", "no order_id or error", 0, account_id)))
    return Autosliced(str(data["order_id"]), tuple(children))

"""Kite's virtual contract notes matched back to the orders asked: by position, and only when the
note at that position is of that order; a short or reordered answer no longer charges one order
with another's note (the orders without theirs are estimated and asked again)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kite_gateway.core.reports import NoteOrder, Side
from kite_gateway.report_ports import notes_by_order

ORDERS = [
    NoteOrder("O1", "NSE", "INFY", Side.BUY, "CNC", 10, Decimal("1500")),
    NoteOrder("O2", "NFO", "NIFTY26DECFUT", Side.SELL, "NRML", 75, Decimal("24000")),
]


def note(order: NoteOrder, brokerage: str) -> dict[str, Any]:
    return {"exchange": order.exchange, "tradingsymbol": order.tradingsymbol, "transaction_type": order.side.value,
            "quantity": order.quantity, "charges": {"brokerage": brokerage, "gst": {"total": 1}}}  # fmt: skip


def test_each_note_is_taken_for_the_order_at_its_position() -> None:
    found = notes_by_order(ORDERS, [note(ORDERS[0], "0"), note(ORDERS[1], "20")])
    assert {k: (v.brokerage, v.gst) for k, v in found.items()} == {
        "O1": (Decimal(0), Decimal(1)),
        "O2": (Decimal(20), Decimal(1)),
    }


def test_a_short_answer_missing_the_first_note_charges_no_order_with_anothers() -> None:
    assert notes_by_order(ORDERS, [note(ORDERS[1], "20")]) == {}


def test_a_reordered_answer_is_not_taken_and_a_note_of_another_quantity_neither() -> None:
    assert notes_by_order(ORDERS, [note(ORDERS[1], "20"), note(ORDERS[0], "0")]) == {}
    halved = {**note(ORDERS[0], "0"), "quantity": 5}
    assert set(notes_by_order(ORDERS, [halved, note(ORDERS[1], "20")])) == {"O2"}

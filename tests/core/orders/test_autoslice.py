"""What the idempotency record keeps of an autoslice and how a lost answer is rebuilt from the book:
the children of the oldest parent carrying the tag, a NOT_FOUND child for quantity the book does not
show, and none of another parent's orders."""

from __future__ import annotations

import pytest

from kite_gateway.core.orders.autoslice import belongs, decode, encode, first_placed, placed_ids, reconciled
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite import Autosliced, SliceOutcome

MARGIN = GatewayError(Status.FAILED_PRECONDITION, Reason.KITE_INSUFFICIENT_MARGIN, "Kite: Insufficient funds.",
                      {"kite_message": "Insufficient funds.", "account_id": "AB1234"})  # fmt: skip
RATE = GatewayError(Status.RESOURCE_EXHAUSTED, Reason.KITE_RATE_LIMITED, "Kite rate limit", {}, retry_after=1.0)


def child(order_id: str, parent: str, quantity: int) -> dict[str, object]:
    return {"order_id": order_id, "tag": "kgtag", "tags": ["kgtag", "autoslice", f"autoslice:{parent}"],
            "quantity": quantity}  # fmt: skip


def test_the_record_keeps_every_child_placed_or_refused_with_its_status_reason_and_words() -> None:
    answer = Autosliced("9", (SliceOutcome(order_id="10"), SliceOutcome(error=MARGIN), SliceOutcome(error=RATE)))
    again = decode(encode(answer))
    assert again.parent_order_id == "9" and again.children[0] == SliceOutcome(order_id="10")
    for kept, original in zip(again.children[1:], (MARGIN, RATE), strict=True):
        error = kept.error
        assert error is not None
        assert (error.code, error.reason, error.message, error.metadata, error.retry_after) == (
            original.code, original.reason, original.message, original.metadata, original.retry_after,
        )  # fmt: skip


def test_an_autoslice_stands_for_its_first_placed_child() -> None:
    answer = Autosliced("9", (SliceOutcome(error=RATE), SliceOutcome(order_id="11"), SliceOutcome(order_id="12")))
    assert first_placed(answer, "AB1234") == "11" and placed_ids(answer) == ["11", "12"]


def test_kite_placing_none_of_the_slices_is_the_first_slices_refusal_saying_so() -> None:
    with pytest.raises(GatewayError) as caught:
        first_placed(Autosliced("9", (SliceOutcome(error=MARGIN), SliceOutcome(error=MARGIN))), "AB1234")
    assert (caught.value.code, caught.value.reason) == (Status.FAILED_PRECONDITION, Reason.KITE_INSUFFICIENT_MARGIN)
    assert "none of the 2 slices" in caught.value.message and caught.value.metadata["parent_order_id"] == "9"
    assert caught.value.metadata["kite_message"] == "Insufficient funds."


def test_a_lost_answer_is_the_oldest_parents_children_and_not_another_parents() -> None:
    rows = [child("10", "9", 1755), child("11", "9", 1755), child("21", "20", 1755), child("12", "9", 65)]
    answer = reconciled(rows, 1755 * 2 + 65, "AB1234")
    assert answer.parent_order_id == "9" and [c.order_id for c in answer.children] == ["10", "11", "12"]
    assert belongs(answer, rows[0]) and not belongs(answer, rows[2])


def test_quantity_the_book_does_not_show_is_one_not_found_child_saying_kite_most_likely_refused_it() -> None:
    answer = reconciled([child("10", "9", 1755)], 1755 * 3, "AB1234")
    assert [c.order_id for c in answer.children] == ["10", ""]
    missing = answer.children[1].error
    assert missing is not None and (missing.code, missing.reason) == (Status.NOT_FOUND, Reason.ORDER_NOT_FOUND)
    assert missing.metadata["missing_quantity"] == str(1755 * 2) and "refused" in missing.message


def test_a_child_is_known_by_its_id_even_without_kites_autoslice_tag() -> None:
    answer = Autosliced("9", (SliceOutcome(order_id="10"),))
    assert belongs(answer, {"order_id": "10", "tags": []}) and not belongs(answer, {"order_id": "11", "tags": []})


def test_an_order_the_book_shows_without_kites_autoslice_tag_stands_alone_under_no_parent() -> None:
    answer = reconciled([{"order_id": "10", "tags": ["kgtag"], "quantity": 65}], 65, "AB1234")
    assert answer == Autosliced("", (SliceOutcome(order_id="10"),))

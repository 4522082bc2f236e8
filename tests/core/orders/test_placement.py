"""Placement's reading of Kite's answers, over a fake KiteOrders and a real idempotency store: a
definite refusal leaves nothing at Kite (the record is FAILED, a retry sends again); an unknown
outcome is looked up in the book, and while the book does not show it the order is not resent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from kite_gateway.core.orders.dispatch import OrderDispatch
from kite_gateway.core.orders.placement import IdempotentPlacement
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.errors import KiteOutcomeUnknown
from kite_gateway.kite.orders import KiteOrders, OrderArgs, OrderRow
from kite_gateway.storage.idempotency import FAILED, PENDING, PLACED, IdempotencyStore
from kite_gateway.storage.sqlite import SqliteDatabase

ARGS: OrderArgs = {"variety": "regular", "exchange": "NSE", "tradingsymbol": "INFY", "quantity": 1}
UNAVAILABLE = GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, "Kite could not be reached")


class FakeOrders:
    """Answers each placement with the next of `answers` (an order id, or an exception to raise);
    an order that "arrived" is put in the book with the tag it was sent with."""

    account_id = "AB1234"

    def __init__(self, answers: list[str | Exception], arrives: bool = False) -> None:
        self.answers = answers
        self.arrives = arrives
        self.book: list[OrderRow] = []
        self.sent = 0

    @contextlib.asynccontextmanager
    async def order_turn(self, weight: int = 1) -> AsyncIterator[None]:
        yield

    async def place_order_now(self, args: OrderArgs, tag: str) -> str:
        self.sent += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            if self.arrives:
                self.book.append(OrderRow(order_id="250101000000009", tag=tag, status="OPEN"))
            raise answer
        return answer

    async def orders(self) -> list[OrderRow]:
        return self.book


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[IdempotencyStore]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    yield IdempotencyStore(database)
    await database.close()


def placement(store: IdempotencyStore, clock: Clock) -> IdempotentPlacement:
    async def sent_since(account_id: str, since: datetime) -> int:
        return 0

    def blocked(account_id: str) -> None:
        pass

    dispatch = OrderDispatch(10, 5.0, 10, 400, 5000, sent_since, blocked, clock)
    return IdempotentPlacement(store, dispatch, blocked, request_timeout=7.0, quarantine=60.0, now=clock)


async def place(target: IdempotentPlacement, kite: FakeOrders) -> tuple[str, bool]:
    return await target.place_order(cast(KiteOrders, kite), "c-1", "fp", ARGS)


async def test_a_definite_refusal_marks_the_record_failed_and_a_retry_sends_again(store: IdempotencyStore) -> None:
    refused = GatewayError(Status.FAILED_PRECONDITION, Reason.KITE_ORDER_REJECTED, "Kite: RMS blocked")
    target, kite = placement(store, Clock()), FakeOrders([refused, "250101000000001"])
    with pytest.raises(GatewayError) as caught:
        await place(target, kite)
    assert caught.value is refused
    record = await store.get("AB1234", "c-1")
    assert record is not None and (record.state, record.error) == (FAILED, "Kite: RMS blocked")
    assert await place(target, kite) == ("250101000000001", False) and kite.sent == 2


async def test_an_unknown_outcome_that_reached_kite_is_found_in_the_book(store: IdempotencyStore) -> None:
    target = placement(store, Clock())
    kite = FakeOrders([KiteOutcomeUnknown(UNAVAILABLE, "ReadTimeout")], arrives=True)
    assert await place(target, kite) == ("250101000000009", False)
    record = await store.get("AB1234", "c-1")
    assert record is not None and (record.state, record.order_id) == (PLACED, "250101000000009")
    assert await place(target, kite) == ("250101000000009", True) and kite.sent == 1


async def test_an_unknown_outcome_not_in_the_book_is_not_resent_until_the_quarantine_ends(
    store: IdempotencyStore,
) -> None:
    clock = Clock()
    target = placement(store, clock)
    kite = FakeOrders([KiteOutcomeUnknown(UNAVAILABLE, "ReadTimeout"), "250101000000002"])
    messages = []
    for _ in range(2):  # the attempt, then a retry inside the quarantine
        with pytest.raises(GatewayError) as caught:
            await place(target, kite)
        assert (caught.value.code, caught.value.reason) == (Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN)
        messages.append(caught.value.message)
    assert "(Kite did not answer: ReadTimeout)" in messages[0] and "will not send it again" in messages[1]
    record = await store.get("AB1234", "c-1")
    assert record is not None and record.state == PENDING and kite.sent == 1
    clock.now += timedelta(seconds=7 + 60)
    assert await place(target, kite) == ("250101000000002", False) and kite.sent == 2


class FakeSlicing(FakeOrders):
    """Kite slices the order into three children and its answer is lost (or carries no children):
    the book shows the children, each with the tag."""

    async def place_autoslice_now(self, args: OrderArgs, tag: str) -> object:
        self.sent += 1
        parent = ["autoslice", "autoslice:250101000000100"]
        self.book.extend(
            OrderRow(order_id=f"25010100000010{i}", tag=tag, tags=[tag, *parent], quantity=q, status="COMPLETE")
            for i, q in ((1, 1800), (2, 1800), (3, 65))
        )
        raise KiteOutcomeUnknown(UNAVAILABLE, "unreadable autoslice answer")


async def test_a_lost_autoslice_answer_is_rebuilt_from_the_book_and_kept_for_every_retry(
    store: IdempotencyStore,
) -> None:
    target, kite = placement(store, Clock()), FakeSlicing([])
    sliced_args = {**ARGS, "quantity": 1800 * 2 + 65}
    first = await target.place_order(cast(KiteOrders, kite), "c-1", "fp", sliced_args, sliced=True)
    assert first == ("250101000000101", False)
    again = await target.place_order(cast(KiteOrders, kite), "c-1", "fp", sliced_args, sliced=True)
    assert again == ("250101000000101", True) and kite.sent == 1
    kept = await target.slices("AB1234", "c-1")
    assert kept is not None and kept.parent_order_id == "250101000000100"
    assert [c.order_id for c in kept.children] == ["250101000000101", "250101000000102", "250101000000103"]

"""The write-ahead send time is when the attempt leaves, not when the placement started waiting
for its turn: the quarantine (no re-send before sent_at + request timeout + quarantine, on any
replica) is counted from it, so a send time taken before the queue's wait shortens the quarantine
by that wait, and another replica may re-send while the first attempt can still arrive."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.kite.errors import KiteOutcomeUnknown
from kite_gateway.kite.orders import KiteOrders
from kite_gateway.storage.idempotency import IdempotencyStore
from kite_gateway.storage.sqlite import SqliteDatabase
from tests.core.orders.test_placement import ARGS, UNAVAILABLE, Clock, FakeOrders, placement


class SlowTurn(FakeOrders):
    """The account's turn comes only when `turn` is set (its pacing, the app's limiter)."""

    def __init__(self, answers: list[str | Exception]) -> None:
        super().__init__(answers)
        self.turn = asyncio.Event()
        self.waiting = asyncio.Event()

    @contextlib.asynccontextmanager
    async def order_turn(self, weight: int = 1) -> AsyncIterator[None]:
        self.waiting.set()
        await self.turn.wait()
        yield


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[IdempotencyStore]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    yield IdempotencyStore(database)
    await database.close()


async def test_an_attempt_that_waited_for_its_turn_is_recorded_as_sent_when_it_left(store: IdempotencyStore) -> None:
    clock = Clock()
    target = placement(store, clock)
    kite = SlowTurn([KiteOutcomeUnknown(UNAVAILABLE, "ReadTimeout"), "250101000000002"])
    started = clock.now
    attempt = asyncio.ensure_future(target.place_order(cast(KiteOrders, kite), "c-1", "fp", ARGS))
    await kite.waiting.wait()
    clock.now += timedelta(seconds=30)  # it waited 30 s for its turn
    left = clock.now
    kite.turn.set()
    with pytest.raises(GatewayError) as caught:
        await attempt
    assert caught.value.reason is Reason.ORDER_OUTCOME_UNKNOWN
    record = await store.get("AB1234", "c-1")
    assert record is not None and record.sent_at == left != started
    # 7 s request timeout + 60 s quarantine after it left: still not re-sent just before that
    clock.now = left + timedelta(seconds=7 + 60 - 1)
    with pytest.raises(GatewayError) as again:
        await target.place_order(cast(KiteOrders, kite), "c-1", "fp", ARGS)
    assert (again.value.code, again.value.reason) == (Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN)
    assert kite.sent == 1

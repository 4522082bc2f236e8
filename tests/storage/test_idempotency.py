"""Idempotency records: of two senders of one record only the first records its send; autosliced
orders: the parent and children are stored with the record,
cleared when a new attempt leaves, and today's order count after a restart counts each child, as
Kite does."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage.database import Database
from kite_gateway.storage.idempotency import PLACED, IdempotencyStore

SENT = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
SLICES = json.dumps({"parent_order_id": "9", "children": [{"order_id": "10"}, {"order_id": "11"}, {"error": {}}]})


@pytest.fixture
def store(database: Database) -> IdempotencyStore:
    return IdempotencyStore(database)


async def test_an_autoslices_children_are_kept_with_its_record(store: IdempotencyStore) -> None:
    await store.claim("AB1234", "c-1", "order", "fp")
    await store.mark_sent("AB1234", "c-1", SENT)
    await store.record_slices("AB1234", "c-1", SLICES)
    await store.settle("AB1234", "c-1", PLACED, "10")
    record = await store.get("AB1234", "c-1")
    assert record is not None and record.slices == SLICES and record.order_id == "10"


async def test_a_new_attempt_forgets_the_children_of_an_earlier_one(store: IdempotencyStore) -> None:
    await store.claim("AB1234", "c-1", "order", "fp")
    await store.record_slices("AB1234", "c-1", SLICES)
    await store.mark_sent("AB1234", "c-1", SENT)
    record = await store.get("AB1234", "c-1")
    assert record is not None and record.slices is None


async def test_todays_order_count_counts_every_child_of_an_autoslice(store: IdempotencyStore) -> None:
    for client_order_id in ("plain", "sliced"):
        await store.claim("AB1234", client_order_id, "order", "fp")
        await store.mark_sent("AB1234", client_order_id, SENT)
    await store.record_slices("AB1234", "sliced", SLICES)
    assert await store.sent_since("AB1234", datetime(2026, 12, 1, tzinfo=UTC)) == 1 + 3


async def test_of_two_senders_that_read_one_record_only_the_first_records_its_send(store: IdempotencyStore) -> None:
    record = await store.claim("AB1234", "c-1", "order", "fp")
    await store.mark_sent("AB1234", "c-1", SENT, attempts=record.attempts)
    with pytest.raises(GatewayError) as refused:  # the other process read the record before that send
        await store.mark_sent("AB1234", "c-1", SENT, attempts=record.attempts)
    assert (refused.value.code, refused.value.reason) == (Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN)
    stored = await store.get("AB1234", "c-1")
    assert stored is not None and stored.attempts == 1

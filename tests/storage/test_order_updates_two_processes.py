"""The order-update log on PostgreSQL written by two processes at once (two pools, as two replicas
have): the owner's ticker and a postback received by another replica report the same changes
concurrently; each change is stored once, the account's sequence has no hole and no duplicate, and a
subscriber reading the log while they write never sees a sequence before the ones under it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.storage import OrderUpdateLog, open_database
from kite_gateway.storage.database import Database


@pytest.fixture
async def two(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    first, second = open_database(postgres_url, tmp_path), open_database(postgres_url, tmp_path)
    await first.open()
    await second.open()
    yield first, second
    await second.close()
    await first.close()


async def test_the_same_updates_reported_by_two_processes_at_once_are_stored_once_in_one_contiguous_sequence(
    two: tuple[Database, Database],
) -> None:
    owner, other = OrderUpdateLog(two[0]), OrderUpdateLog(two[1])
    changes: list[dict[str, Any]] = [
        {"order_id": str(n // 3), "status": ("OPEN", "TRIGGER PENDING", "COMPLETE")[n % 3]} for n in range(60)
    ]
    seen: list[int] = []
    done = asyncio.Event()

    async def subscriber() -> None:  # reads from its last sequence, as a stream does
        last = 0
        while not done.is_set() or last < await owner.newest("AB1234"):
            for update in await owner.after("AB1234", last):
                seen.append(update.sequence)
                last = update.sequence
            await asyncio.sleep(0)

    reader = asyncio.create_task(subscriber())
    stored = await asyncio.gather(
        *(log.append("AB1234", change, source) for change in changes for log, source in ((owner, 1), (other, 2)))
    )
    done.set()
    await reader
    kept = sorted(s.sequence for s in stored if s is not None)
    assert kept == list(range(1, len(changes) + 1))  # once each
    assert seen == list(range(1, len(changes) + 1))  # no hole was skipped, nothing twice
    logged = [(u.order["order_id"], u.order["status"]) for u in await other.after("AB1234", 0)]
    assert sorted(logged) == sorted((c["order_id"], c["status"]) for c in changes)

"""Leases with fencing tokens in the database: one owner at a time, a new generation at every
change of owner, and owner-only writes refused under a stale one (a replica paused past its lease
cannot record a send), on the database's clock (here a test clock passed to the store); on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kite_gateway.core.risk import KillSwitches
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import Database
from kite_gateway.storage.idempotency import PENDING, IdempotencyStore
from kite_gateway.storage.leases import SQLITE_CLOCK, FencedOut, FenceToken, LeaseStore

TTL = 6000
SENT = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def leases(database: Database, clock: Clock) -> LeaseStore:
    return LeaseStore(database, SQLITE_CLOCK, now_ms=clock)


class TokenFence:
    """The fence of a replica that believes it holds `token` (whatever the database says)."""

    def __init__(self, leases: LeaseStore, token: FenceToken) -> None:
        self.leases, self.token = leases, token

    def condition(self, account_id: str) -> tuple[str, tuple[Any, ...]]:
        return self.leases.fence(self.token)


async def test_a_live_lease_is_not_taken_by_a_second_replica(leases: LeaseStore) -> None:
    assert await leases.acquire("app", "r1", TTL) == 1
    assert await leases.acquire("app", "r2", TTL) is None
    assert (await leases.leases())["app"].owner == "r1"


async def test_an_expired_lease_moves_with_a_new_generation_and_the_old_owner_cannot_renew(
    leases: LeaseStore, clock: Clock
) -> None:
    await leases.acquire("app", "r1", TTL)
    clock.ms += TTL
    assert await leases.acquire("app", "r2", TTL) == 2
    assert not await leases.renew(FenceToken("app", "r1", 1), TTL)
    assert await leases.renew(FenceToken("app", "r2", 2), TTL)


async def test_a_lease_that_ran_out_but_was_not_taken_is_renewed_by_its_owner(leases: LeaseStore, clock: Clock) -> None:
    await leases.acquire("app", "r1", TTL)
    clock.ms += TTL * 2
    assert await leases.renew(FenceToken("app", "r1", 1), TTL)
    assert await leases.acquire("app", "r2", TTL) is None


async def test_the_time_a_lease_has_left_is_read_by_the_database_clock(leases: LeaseStore, clock: Clock) -> None:
    assert await leases.expires_in_ms("app") is None
    await leases.acquire("app", "r1", TTL)
    clock.ms += 2000
    assert await leases.expires_in_ms("app") == TTL - 2000


async def test_a_released_lease_is_taken_at_once(leases: LeaseStore) -> None:
    await leases.acquire("app", "r1", TTL)
    await leases.release(FenceToken("app", "r1", 1))
    assert await leases.acquire("app", "r2", TTL) == 2


async def test_the_owners_address_is_known_only_while_lease_and_replica_are_live(
    leases: LeaseStore, clock: Clock
) -> None:
    await leases.announce("r1", "10.0.0.1:50051", TTL)
    await leases.acquire("app", "r1", TTL)
    assert await leases.owner_address("app") == "10.0.0.1:50051"
    assert [r.replica_id for r in await leases.replicas()] == ["r1"]
    clock.ms += TTL
    assert await leases.owner_address("app") is None
    assert await leases.replicas() == []


async def test_a_stale_owner_cannot_record_a_send_and_the_record_is_left_as_it_was(
    database: Database, leases: LeaseStore, clock: Clock
) -> None:
    await leases.acquire("app", "r1", TTL)
    stale = IdempotencyStore(database, TokenFence(leases, FenceToken("app", "r1", 1)))
    await stale.claim("AB1234", "c-1", "order", "fp")
    clock.ms += TTL  # r1 paused past its lease; r2 takes it
    generation = await leases.acquire("app", "r2", TTL)
    assert generation == 2
    with pytest.raises(FencedOut) as refused:
        await stale.mark_sent("AB1234", "c-1", SENT)
    assert refused.value.code is Status.UNAVAILABLE and refused.value.reason is Reason.ACCOUNT_MOVING
    owner = IdempotencyStore(database, TokenFence(leases, FenceToken("app", "r2", 2)))
    record = await owner.get("AB1234", "c-1")
    assert record is not None and record.sent_at is None and record.state == PENDING
    await owner.mark_sent("AB1234", "c-1", SENT)
    with pytest.raises(FencedOut):
        await stale.settle("AB1234", "c-1", "failed", error="stale")
    record = await owner.get("AB1234", "c-1")
    assert record is not None and record.sent_at == SENT and record.error is None


async def test_a_kill_switch_stored_by_another_replica_stops_a_send_this_one_has_not_heard_of(
    database: Database,
) -> None:
    store = IdempotencyStore(database)
    await store.claim("AB1234", "c-1", "order", "fp")
    elsewhere = KillSwitches(database)  # another replica's view of the same database
    await elsewhere.set("", True, "drill", "ops")
    with pytest.raises(GatewayError) as refused:
        await store.mark_sent("AB1234", "c-1", SENT)
    assert refused.value.reason is Reason.KILL_SWITCH_ACTIVE and refused.value.code is Status.FAILED_PRECONDITION
    record = await store.get("AB1234", "c-1")
    assert record is not None and record.sent_at is None
    await elsewhere.set("", False, "drill over", "ops")
    await store.mark_sent("AB1234", "c-1", SENT)
    record = await store.get("AB1234", "c-1")
    assert record is not None and record.sent_at == SENT

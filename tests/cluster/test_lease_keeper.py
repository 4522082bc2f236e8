"""The lease keeper over a real database: leases spread over the live replicas, move when one
dies or drains, and a replica paused past its lease stops acting as owner by its own deadline,
before the database's lease runs out (one test clock stands for the database's and each
replica's monotonic clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from pathlib import Path

import pytest

from kite_gateway.cluster.lease_keeper import LeaseKeeper
from kite_gateway.storage import SQLITE_CLOCK, Database, LeaseStore, open_database

TTL = 6.0
KEYS = [f"app{i}" for i in range(7)]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def ms(self) -> int:
        return int(self.t * 1000)

    def __call__(self) -> float:
        return self.t


class Replica:
    """One replica's keeper and the record of what it was told to start and stop."""

    def __init__(self, database: Database, clock: Clock, name: str, keys: list[str]) -> None:
        self.events: list[tuple[str, str]] = []
        self.running: set[str] = set()
        self.keys = keys

        async def all_keys() -> Collection[str]:
            return self.keys

        async def acquired(key: str) -> None:
            self.events.append(("acquired", key))
            self.running.add(key)

        async def lost(key: str) -> None:
            self.events.append(("lost", key))
            self.running.discard(key)

        self.keeper = LeaseKeeper(
            LeaseStore(database, SQLITE_CLOCK, now_ms=clock.ms),
            name,
            f"{name}:50051",
            all_keys,
            ttl=TTL,
            on_acquired=acquired,
            on_lost=lost,
            monotonic=clock,
        )


@pytest.fixture(params=("sqlite", "postgres"))
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    database = open_database(url, tmp_path)
    await database.open()
    yield database
    await database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def rounds(replicas: list[Replica], clock: Clock, count: int = 4) -> None:
    for _ in range(count):
        for replica in replicas:
            await replica.keeper.round()
        clock.t += TTL / 3


def owners(replicas: list[Replica]) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for replica in replicas:
        for key in replica.keeper.held():
            held.setdefault(key, []).append(replica.keeper.replica_id)
    return held


async def test_three_replicas_share_the_leases_and_each_key_has_exactly_one_owner(
    database: Database, clock: Clock
) -> None:
    replicas = [Replica(database, clock, f"r{i}", KEYS) for i in range(3)]
    await rounds(replicas, clock, 8)
    held = owners(replicas)
    assert sorted(held) == KEYS and all(len(names) == 1 for names in held.values())
    assert sorted(len(r.keeper.held()) for r in replicas) == [2, 2, 3]
    assert all(r.running == set(r.keeper.held()) for r in replicas)


async def test_the_leases_of_a_replica_killed_without_warning_move_within_a_ttl_and_a_round(
    database: Database, clock: Clock
) -> None:
    replicas = [Replica(database, clock, f"r{i}", KEYS) for i in range(3)]
    await rounds(replicas, clock, 8)
    dead, survivors = replicas[0], replicas[1:]
    orphaned = dead.keeper.held()
    killed_at = clock.t
    while not set(orphaned) <= set(owners(survivors)):
        await rounds(survivors, clock, 1)
        assert clock.t - killed_at <= TTL + TTL / 3 + TTL / 3, "failover took longer than a ttl and a round"
    held = owners(survivors)
    assert sorted(held) == KEYS and all(len(names) == 1 for names in held.values())


async def test_a_replica_paused_past_its_lease_stops_owning_by_its_own_deadline_and_stops_on_resume(
    database: Database, clock: Clock
) -> None:
    replicas = [Replica(database, clock, f"r{i}", KEYS) for i in range(2)]
    await rounds(replicas, clock, 8)
    paused, other = replicas
    mine = paused.keeper.held()
    assert mine
    clock.t += TTL - TTL / 6  # no round: its local deadline passes before the database's lease does
    assert paused.keeper.held() == [] and all(paused.keeper.token(k) is None for k in mine)
    clock.t += TTL
    await rounds([other], clock, 2)
    assert set(mine) <= set(other.keeper.held())
    await paused.keeper.round()  # resumed: its renewals are refused, it stops what it ran
    assert paused.running.isdisjoint(mine)
    assert [e for e in paused.events if e[0] == "lost"] and sorted(owners(replicas)) == KEYS


async def test_a_draining_replica_hands_its_leases_off_and_another_takes_them_without_waiting(
    database: Database, clock: Clock
) -> None:
    replicas = [Replica(database, clock, f"r{i}", KEYS) for i in range(3)]
    await rounds(replicas, clock, 8)
    leaving, staying = replicas[0], replicas[1:]
    handed = leaving.keeper.held()
    await leaving.keeper.drain()
    assert leaving.keeper.held() == [] and leaving.running == set()
    await rounds(staying, clock, 1)  # one round, well inside a ttl
    assert set(handed) <= set(owners(staying))


async def test_a_replica_that_joins_late_is_handed_leases_until_the_shares_are_even(
    database: Database, clock: Clock
) -> None:
    first = Replica(database, clock, "r0", KEYS)
    await rounds([first], clock, 2)
    assert first.keeper.held() == KEYS
    late = Replica(database, clock, "r1", KEYS)
    await rounds([first, late], clock, 10)
    assert sorted(len(r.keeper.held()) for r in (first, late)) == [3, 4]
    held = owners([first, late])
    assert sorted(held) == KEYS and all(len(names) == 1 for names in held.values())
    # what moved was stopped on the old owner before the new one started it
    for key in late.keeper.held():
        assert ("lost", key) in first.events


async def test_a_replica_cut_off_from_the_database_stops_owning_when_its_deadline_passes(
    database: Database, clock: Clock
) -> None:
    replica = Replica(database, clock, "r0", KEYS)
    await rounds([replica], clock, 2)
    await database.close()  # every round now fails
    with pytest.raises(RuntimeError, match="database not open"):
        await replica.keeper.round()
    clock.t += TTL
    await replica.keeper._expire_local()
    assert replica.keeper.held() == [] and replica.running == set()
    assert not replica.keeper.healthy()

"""Kill switches reloaded from the database (the clustered mode takes in other replicas' switches
every lease round): a reload sees another replica's switch, and never undoes one this process
engaged while the reload was reading or the switch was being written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.risk import KillSwitches
from kite_gateway.errors import GatewayError
from kite_gateway.storage import Row, SqliteDatabase


class HeldDatabase(SqliteDatabase):
    """A real database whose next read or write waits until the test lets it go."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.hold_reads = self.hold_writes = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def _wait(self) -> None:
        self.entered.set()
        await self.release.wait()

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        rows = await super().fetch_all(sql, params)
        if self.hold_reads:
            await self._wait()  # what was read is now older than what happens meanwhile
        return rows

    async def execute(self, sql: str, params: Iterable[Any] = (), *, synced: bool = True) -> int:
        if self.hold_writes:
            await self._wait()
        return await super().execute(sql, params, synced=synced)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[HeldDatabase]:
    database = HeldDatabase(tmp_path / "gateway.db")
    await database.open()
    yield database
    await database.close()


def engaged(switches: KillSwitches, account_id: str) -> bool:
    try:
        switches.check(account_id)
    except GatewayError:
        return True
    return False


async def test_a_reload_takes_in_a_switch_another_replica_engaged(database: HeldDatabase) -> None:
    here, elsewhere = KillSwitches(database), KillSwitches(database)
    await elsewhere.set("", True, "drill", "ops")
    assert not engaged(here, "ZS0001")
    await here.load()
    assert engaged(here, "ZS0001")


async def test_a_reload_while_this_process_is_storing_a_switch_does_not_release_it(database: HeldDatabase) -> None:
    switches = KillSwitches(database)
    database.hold_writes = True
    engaging = asyncio.create_task(switches.set("ZS0001", True, "loss limit", "risk"))
    await database.entered.wait()
    database.hold_writes = False
    await switches.load()  # reads the table before the switch is in it
    assert engaged(switches, "ZS0001")
    database.release.set()
    await engaging
    assert engaged(switches, "ZS0001")


async def test_a_switch_engaged_while_a_reload_reads_survives_the_reload(database: HeldDatabase) -> None:
    switches = KillSwitches(database)
    database.hold_reads = True
    reloading = asyncio.create_task(switches.load())
    await database.entered.wait()
    database.hold_reads = False
    await switches.set("ZS0001", True, "loss limit", "risk")
    database.release.set()
    await reloading  # its rows are from before the switch
    assert engaged(switches, "ZS0001")

"""P&L and margin events from the automatic exits' mark-to-market (a real ExitWatch over fake Kite
ports): each change of an account's or a strategy's P&L, and of an account's utilisation, once;
margins are read for the alerts even with no margin rule; a failing listener stops no exit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from kite_gateway.alert_feeds import PnlAlerts
from kite_gateway.core.alerts import MarginEvent, PnlEvent, PnlOf
from kite_gateway.core.risk import (
    ExitBook,
    ExitPorts,
    ExitRules,
    ExitWatch,
    KillSwitches,
    PnlMark,
    PriceSink,
    StrategyPosition,
)
from kite_gateway.kite.portfolio import Margins, PositionRow, Positions
from kite_gateway.storage import AuditLog, ExitEventLog, SqliteDatabase
from tests.alert_feeds.fakes import NOW, Broken, Recorder, clock
from tests.core.risk.exit_fakes import margins, row


@dataclass
class FakeKite:
    positions: dict[str, list[PositionRow]] = field(default_factory=dict)
    margin_reads: int = 0

    async def read_positions(self, account_id: str) -> Positions:
        return Positions(list(self.positions.get(account_id, [])), [])

    async def read_margins(self, account_id: str) -> Margins:
        self.margin_reads += 1
        return margins("750", "250")  # 250 used of 1000


class FakeFeed:
    async def follow(self, account_id: str, tokens: set[int], sink: PriceSink) -> None:
        pass

    async def stop(self) -> None:
        pass


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    yield database
    await database.close()


def watch_of(
    database: SqliteDatabase, kite: FakeKite, book: ExitBook, held: Mapping[str, list[StrategyPosition]] | None = None
) -> tuple[ExitWatch, KillSwitches]:
    async def strategy_positions(strategy_id: str) -> Sequence[StrategyPosition]:
        return (held or {}).get(strategy_id, [])

    ports = ExitPorts(
        positions=kite.read_positions,
        margins=kite.read_margins,
        prices=FakeFeed(),
        strategy_positions=strategy_positions if held is not None else None,
    )
    switches = KillSwitches(database)
    return ExitWatch(book, ports, ExitEventLog(database), AuditLog(database), switches, clock=clock), switches


async def test_an_accounts_pnl_and_utilisation_are_told_on_each_change_even_without_exit_rules(
    database: SqliteDatabase,
) -> None:
    kite, recorder = FakeKite({"ZS0001": [row(7, 10, "0", "100")]}), Recorder()
    watch, _ = watch_of(database, kite, ExitBook())  # what alerts alone would need: no rule to act on
    watch.mark_listeners.append(PnlAlerts(recorder).marked)
    await watch.activate("ZS0001")
    watch.prices("ZS0001", {7: Decimal(101)})
    watch.prices("ZS0001", {7: Decimal(101)})  # no change: nothing told
    watch.prices("ZS0001", {8: Decimal(5)})  # not held
    await watch.settle()
    assert kite.margin_reads == 1  # read for the alerts although no margin rule is configured
    assert recorder.events == [
        PnlEvent(PnlOf.ACCOUNT, "ZS0001", Decimal(0), NOW),
        MarginEvent("ZS0001", Decimal("0.25"), NOW),
        PnlEvent(PnlOf.ACCOUNT, "ZS0001", Decimal(10), NOW),  # the utilisation did not change: not told again
    ]
    assert watch.fired == []


async def test_a_strategys_pnl_is_told_under_the_strategy_scope(database: SqliteDatabase) -> None:
    kite, recorder = FakeKite({"ZS0001": [row(7, 30, "0", "100")]}), Recorder()
    book = ExitBook(strategies={"momentum": ExitRules()})
    held = {"momentum": [StrategyPosition("ZS0001", 7, 10, Decimal(100))]}
    watch, _ = watch_of(database, kite, book, held)
    watch.mark_listeners.append(PnlAlerts(recorder).marked)
    await watch.activate("ZS0001")
    watch.prices("ZS0001", {7: Decimal(96)})
    strategy = [e for e in recorder.events if isinstance(e, PnlEvent) and e.scope is PnlOf.STRATEGY]
    assert strategy == [
        PnlEvent(PnlOf.STRATEGY, "momentum", Decimal(0), NOW),
        PnlEvent(PnlOf.STRATEGY, "momentum", Decimal(-40), NOW),
    ]


async def test_a_failing_alert_center_or_listener_stops_no_automatic_exit(database: SqliteDatabase) -> None:
    kite, broken = FakeKite({"ZS0001": [row(7, 100, "-200", "500")]}), Broken()
    watch, switches = watch_of(database, kite, ExitBook(ExitRules(daily_loss_limit=Decimal(1000))))

    def failing(mark: PnlMark) -> None:
        raise RuntimeError("listener bug")

    watch.mark_listeners += [PnlAlerts(broken).marked, failing]
    await watch.activate("ZS0001")
    watch.prices("ZS0001", {7: Decimal(492)})  # -1000: crossed
    await watch.settle()
    assert switches.state("ZS0001").engaged and broken.calls >= 2

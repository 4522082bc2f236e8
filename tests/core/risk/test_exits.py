"""The automatic exits over fake Kite ports and a real database: a crossing engages the kill switch
with its reason, squares off and is told once (not again on later ticks, nor after a restart the
same day); fills re-read positions and margins (the latter at most every N seconds); a strategy's
rule halts the strategy through its port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kite_gateway.core.risk import (
    ExitBook,
    ExitEvent,
    ExitPorts,
    ExitRule,
    ExitRules,
    ExitWatch,
    KillSwitches,
    PriceSink,
    StrategyPosition,
)
from kite_gateway.core.risk.exits import AUDIT_ACTION_SET_KILL_SWITCH, PRINCIPAL
from kite_gateway.kite.portfolio import Margins, PositionRow, Positions
from kite_gateway.storage import AuditLog, ExitEventLog, SqliteDatabase
from kite_wire import IST
from tests.core.risk.exit_fakes import margins, row

NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)  # 10:30 in Mumbai


@dataclass
class FakeKite:
    """Kite's positions and margins per account, and what the exits asked of it."""

    positions: dict[str, list[PositionRow]] = field(default_factory=dict)
    margins: dict[str, Margins] = field(default_factory=dict)
    position_reads: int = 0
    margin_reads: int = 0

    async def read_positions(self, account_id: str) -> Positions:
        self.position_reads += 1
        return Positions(list(self.positions.get(account_id, [])), [])

    async def read_margins(self, account_id: str) -> Margins:
        self.margin_reads += 1
        return self.margins.get(account_id, margins("1000", "0"))


@dataclass
class FakeFeed:
    followed: dict[str, set[int]] = field(default_factory=dict)
    sink: PriceSink | None = None

    async def follow(self, account_id: str, tokens: set[int], sink: PriceSink) -> None:
        self.followed[account_id], self.sink = set(tokens), sink

    async def stop(self) -> None:
        pass


@dataclass
class Actions:
    square_offs: list[tuple[str, str, str, str]] = field(default_factory=list)
    halts: list[tuple[str, str]] = field(default_factory=list)
    exits: list[ExitEvent] = field(default_factory=list)
    pnl: list[tuple[str, Decimal, Decimal | None]] = field(default_factory=list)

    async def square_off(self, scope: str, scope_id: str, reason: str, request_id: str) -> str:
        self.square_offs.append((scope, scope_id, reason, request_id))
        return "2 orders sent"

    async def halt(self, strategy_id: str, reason: str) -> None:
        self.halts.append((strategy_id, reason))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "gateway.db")
    await database.open()
    yield database
    await database.close()


def watch_of(
    database: SqliteDatabase,
    kite: FakeKite,
    feed: FakeFeed,
    actions: Actions,
    book: ExitBook,
    strategy_positions: Callable[[str], Sequence[StrategyPosition]] | None = None,
) -> tuple[ExitWatch, KillSwitches]:
    async def positions_of(strategy_id: str) -> Sequence[StrategyPosition]:
        assert strategy_positions is not None
        return strategy_positions(strategy_id)

    ports = ExitPorts(
        positions=kite.read_positions,
        margins=kite.read_margins,
        prices=feed,
        square_off=actions.square_off,
        strategy_positions=positions_of if strategy_positions is not None else None,
        halt_strategy=actions.halt,
        on_exit=actions.exits.append,
        on_pnl=lambda a, p, u: actions.pnl.append((a, p, u)),
    )
    switches = KillSwitches(database)
    return ExitWatch(book, ports, ExitEventLog(database), AuditLog(database), switches, clock=lambda: NOW), switches


LOSS_LIMIT = ExitBook(ExitRules(daily_loss_limit=Decimal(1000)))


async def test_a_price_crossing_the_daily_loss_limit_engages_the_kill_switch_squares_off_and_tells_once(
    database: SqliteDatabase,
) -> None:
    kite, feed, actions = FakeKite({"ZS0001": [row(7, 100, "-200", "500")]}), FakeFeed(), Actions()
    watch, switches = watch_of(database, kite, feed, actions, LOSS_LIMIT)
    await watch.activate("ZS0001")
    assert feed.followed == {"ZS0001": {7}}
    watch.prices("ZS0001", {7: Decimal("492.01")})  # -200 + 100 * -7.99 = -999
    await watch.settle()
    assert actions.exits == [] and not switches.state("ZS0001").engaged
    watch.prices("ZS0001", {7: Decimal(492)})  # -1000: crossed
    watch.prices("ZS0001", {7: Decimal(480)})  # further below: nothing more
    await watch.settle()
    assert len(actions.exits) == 1
    event = actions.exits[0]
    assert (event.scope, event.scope_id, event.rule, event.pnl) == ("account", "ZS0001", ExitRule.DAILY_LOSS_LIMIT,
                                                                    Decimal(-1000))  # fmt: skip
    assert event.outcome == "kill switch of ZS0001 engaged; 2 orders sent"
    switch = switches.state("ZS0001")
    assert switch.engaged and switch.principal == PRINCIPAL and "daily loss limit" in switch.reason
    assert [(s, i, r) for s, i, _, r in actions.square_offs] == [("account", "ZS0001", f"exits-{event.event_id}")]
    stored = await ExitEventLog(database).of_day(event.trading_day)
    assert [(s.rule, s.outcome) for s in stored] == [("daily_loss_limit", event.outcome)]
    audit = await AuditLog(database).query("ZS0001", None, None, "", "", 0, 10)
    assert [(a.action, a.principal) for a in audit] == [(AUDIT_ACTION_SET_KILL_SWITCH, PRINCIPAL)]
    assert "daily loss limit" in audit[0].request_json
    status = watch.account_status("ZS0001")
    assert status.pnl == Decimal(-2200) and ExitRule.DAILY_LOSS_LIMIT in status.crossed and status.events


async def test_after_a_restart_the_same_day_a_rule_that_fired_does_not_fire_again(database: SqliteDatabase) -> None:
    kite, feed, actions = FakeKite({"ZS0001": [row(7, 100, "-2000", "500")]}), FakeFeed(), Actions()
    first, _ = watch_of(database, kite, feed, actions, LOSS_LIMIT)
    await first.activate("ZS0001")  # already below the limit when read
    await first.settle()
    assert len(actions.exits) == 1
    again, switches = watch_of(database, kite, FakeFeed(), Actions(), LOSS_LIMIT)
    await again.activate("ZS0001")
    again.prices("ZS0001", {7: Decimal(400)})
    await again.settle()
    assert again.ports.on_exit is not None and again.account_status("ZS0001").crossed
    assert not switches.state("ZS0001").engaged  # an admin's release (here: a fresh process) is not undone
    assert len(actions.exits) == 1


async def test_square_off_false_engages_the_kill_switch_and_sends_nothing(database: SqliteDatabase) -> None:
    kite, feed, actions = FakeKite({"ZS0001": [row(7, 10, "0", "100")]}), FakeFeed(), Actions()
    book = ExitBook(ExitRules(daily_loss_limit=Decimal(10), square_off=False))
    watch, switches = watch_of(database, kite, feed, actions, book)
    await watch.activate("ZS0001")
    watch.prices("ZS0001", {7: Decimal(98)})
    await watch.settle()
    assert switches.state("ZS0001").engaged and actions.square_offs == []
    assert [e.outcome for e in actions.exits] == ["kill switch of ZS0001 engaged"]


async def test_a_fill_reads_positions_again_and_follows_the_new_instrument(database: SqliteDatabase) -> None:
    kite, feed, actions = FakeKite({"ZS0001": []}), FakeFeed(), Actions()
    watch, _ = watch_of(database, kite, feed, actions, LOSS_LIMIT)
    await watch.activate("ZS0001")
    assert feed.followed.get("ZS0001", set()) == set() and kite.position_reads == 1
    await watch.order_stored("ZS0001", {"order_id": "1", "status": "OPEN", "filled_quantity": 0})
    assert kite.position_reads == 1  # nothing filled: nothing to read
    kite.positions["ZS0001"] = [row(9, 5, "0", "10")]
    await watch.order_stored("ZS0001", {"order_id": "1", "status": "COMPLETE", "filled_quantity": 5})
    await watch.order_stored("ZS0001", {"order_id": "1", "status": "COMPLETE", "filled_quantity": 5})  # a repeat
    assert kite.position_reads == 2 and feed.followed["ZS0001"] == {9}
    watch.prices("ZS0001", {9: Decimal(12)})
    assert watch.account_status("ZS0001").pnl == Decimal(10)


async def test_margins_are_read_on_fills_at_most_every_refresh_interval(database: SqliteDatabase) -> None:
    kite, feed, actions = FakeKite({"ZS0001": [row(9, 5, "0", "10")]}), FakeFeed(), Actions()
    book = ExitBook(ExitRules(max_margin_utilisation=Decimal("0.5")), margin_refresh_seconds=0.2)
    watch, switches = watch_of(database, kite, feed, actions, book)
    await watch.activate("ZS0001")
    assert kite.margin_reads == 1
    kite.margins["ZS0001"] = margins("400", "600")
    await watch.order_stored("ZS0001", {"order_id": "1", "filled_quantity": 1})
    await watch.order_stored("ZS0001", {"order_id": "1", "filled_quantity": 2})
    assert kite.margin_reads == 1  # too soon after the first read: one read is scheduled
    deadline = time.monotonic() + 5
    while not switches.state("ZS0001").engaged:
        assert time.monotonic() < deadline, "the delayed margins read never came"
        await asyncio.sleep(0.01)
    await watch.settle()
    assert kite.margin_reads == 2
    assert [e.rule for e in actions.exits] == [ExitRule.MARGIN_UTILISATION]
    assert actions.exits[0].utilisation == Decimal("0.6")


async def test_on_pnl_is_told_each_change_of_pnl_or_utilisation_only(database: SqliteDatabase) -> None:
    kite, feed, actions = FakeKite({"ZS0001": [row(7, 10, "0", "100")]}), FakeFeed(), Actions()
    watch, _ = watch_of(database, kite, feed, actions, LOSS_LIMIT)
    await watch.activate("ZS0001")
    watch.prices("ZS0001", {7: Decimal(101)})
    watch.prices("ZS0001", {7: Decimal(101)})
    watch.prices("ZS0001", {8: Decimal(5)})  # not held
    assert actions.pnl == [("ZS0001", Decimal(0), Decimal(0)), ("ZS0001", Decimal(10), Decimal(0))]


async def test_a_strategy_rule_halts_the_strategy_and_squares_off_its_positions(database: SqliteDatabase) -> None:
    kite, feed, actions = FakeKite({"ZS0001": [row(7, 30, "0", "100")]}), FakeFeed(), Actions()
    book = ExitBook(strategies={"momentum": ExitRules(daily_loss_limit=Decimal(50))})
    held: Mapping[str, list[StrategyPosition]] = {"momentum": [StrategyPosition("ZS0001", 7, 10, Decimal(100))]}
    watch, switches = watch_of(database, kite, feed, actions, book, lambda s: held.get(s, []))
    await watch.activate("ZS0001")
    watch.prices("ZS0001", {7: Decimal(96)})  # the strategy: 10 * -4 = -40
    watch.prices("ZS0001", {7: Decimal(95)})  # -50: crossed (the account's -150 has no rule)
    await watch.settle()
    assert [h[0] for h in actions.halts] == ["momentum"] and "strategy momentum" in actions.halts[0][1]
    assert [(s, i) for s, i, _, _ in actions.square_offs] == [("strategy", "momentum")]
    assert not switches.state("ZS0001").engaged  # a strategy's rule stops the strategy, not the account
    statuses = watch.strategy_statuses("ZS0001")
    assert [(s.scope_id, s.pnl) for s in statuses] == [("momentum", Decimal(-50))]
    assert [e.outcome for e in actions.exits] == ["strategy momentum halted; 2 orders sent"]


async def test_an_exit_claimed_before_a_crash_is_carried_out_when_the_account_is_watched_again(
    database: SqliteDatabase,
) -> None:
    events = ExitEventLog(database)
    day = NOW.astimezone(IST).date()
    claimed = await events.claim(day, "account", "ZS0001", "daily_loss_limit", "daily loss limit crossed", "-1200",
                                 "-1000", "", "", True)  # fmt: skip
    assert claimed is not None  # ... and the process stopped before doing anything
    kite, feed, actions = FakeKite({"ZS0001": [row(7, 10, "0", "100")]}), FakeFeed(), Actions()
    watch, switches = watch_of(database, kite, feed, actions, LOSS_LIMIT)
    await watch.activate("ZS0001")
    await watch.activate("ZS0001")  # again (a new login): still carried out once
    await watch.settle()
    assert switches.state("ZS0001").engaged
    assert [r for *_, r in actions.square_offs] == [f"exits-{claimed.event_id}"]
    assert [e.event_id for e in actions.exits] == [claimed.event_id]
    (stored,) = await events.of_day(day)
    assert stored.outcome.startswith("kill switch of ZS0001 engaged")


async def test_the_next_trading_day_re_arms_a_rule_that_fired(database: SqliteDatabase) -> None:
    kite, feed, actions = FakeKite({"ZS0001": [row(7, 10, "0", "100")]}), FakeFeed(), Actions()
    watch, _ = watch_of(database, kite, feed, actions, LOSS_LIMIT)
    now = [NOW]
    watch.clock = lambda: now[0]
    await watch.activate("ZS0001")
    watch.prices("ZS0001", {7: Decimal(0)})  # -1000
    await watch.settle()
    watch.prices("ZS0001", {7: Decimal(-1)})
    await watch.settle()
    assert len(actions.exits) == 1
    now[0] = NOW + timedelta(days=1)
    watch.prices("ZS0001", {7: Decimal(-2)})  # a new day: positions read again, the rule armed again
    await watch.settle()
    watch.prices("ZS0001", {7: Decimal(-3)})
    await watch.settle()
    assert [e.trading_day.day for e in actions.exits] == [2, 3]


async def test_an_account_another_replica_took_over_is_no_longer_watched(database: SqliteDatabase) -> None:
    kite, feed, actions = FakeKite({"ZS0001": [row(7, 10, "0", "100")]}), FakeFeed(), Actions()
    watch, switches = watch_of(database, kite, feed, actions, LOSS_LIMIT)
    await watch.activate("ZS0001")
    await watch.deactivate("ZS0001")
    assert feed.followed["ZS0001"] == set()
    watch.prices("ZS0001", {7: Decimal(0)})
    await watch.settle()
    assert actions.exits == [] and not switches.state("ZS0001").engaged
    assert not watch.account_status("ZS0001").watching

"""The fill recorder over a scripted Kite: an order update with new fills stores the order's trades
once; a reconciliation stores the trades an update missed; a reconciliation on a later day than
the last watch mark records a gap over the days Kite no longer lists; charges come from Kite's
note, else from the estimate, and are refreshed from Kite once it answers again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kite_gateway.core.reports import Charges, ChargeSource, Fill
from kite_gateway.core.reports.recorder import FillRecorder, NoteOrder, fill_of, instrument_type_of
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.storage import Database, FillLog, FillQuery
from kite_gateway.storage.sqlite import SqliteDatabase


def trade(trade_id: str, order_id: str, quantity: int, price: str, at: str = "2026-12-03 09:20:00",
          side: str = "BUY", symbol: str = "INFY", exchange: str = "NSE") -> dict[str, Any]:  # fmt: skip
    return {"trade_id": trade_id, "order_id": order_id, "exchange": exchange, "tradingsymbol": symbol,
            "instrument_token": 408065, "transaction_type": side, "product": "CNC", "quantity": quantity,
            "average_price": price, "fill_timestamp": at, "exchange_timestamp": at}  # fmt: skip


class ScriptedKite:
    def __init__(self) -> None:
        self.trades: list[dict[str, Any]] = []
        self.reads = 0
        self.down = False
        self.notes_down = False
        self.noted: list[NoteOrder] = []

    def _check(self) -> None:
        if self.down:
            raise GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, "Kite is down")

    async def day_trades(self, account_id: str) -> list[Mapping[str, Any]]:
        self._check()
        self.reads += 1
        return list(self.trades)

    async def order_trades(self, account_id: str, order_id: str) -> list[Mapping[str, Any]]:
        self._check()
        self.reads += 1
        return [t for t in self.trades if t["order_id"] == order_id]

    async def contract_notes(self, account_id: str, orders: Sequence[NoteOrder]) -> dict[str, Charges]:
        if self.notes_down:
            raise GatewayError(Status.UNAVAILABLE, Reason.KITE_UNAVAILABLE, "Kite is down")
        self.noted.extend(orders)
        return {o.order_id: Charges(brokerage=Decimal(0), stamp_duty=o.average_price * o.quantity / 10000)
                for o in orders}  # fmt: skip


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def estimated(fills: Sequence[Fill]) -> Charges:
    return Charges(brokerage=Decimal("20"))


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    db = SqliteDatabase(tmp_path / "g.db")
    await db.open()
    yield db
    await db.close()


async def test_an_update_with_new_fills_stores_the_orders_trades_once_and_charges_them(database: Database) -> None:
    kite, clock = ScriptedKite(), Clock(datetime(2026, 12, 3, 4, 0, tzinfo=UTC))
    recorder, log = FillRecorder(FillLog(database), kite, clock, estimated), FillLog(database)
    kite.trades = [trade("T1", "O1", 4, "1500"), trade("T2", "O1", 6, "1501")]
    await recorder.order_updated("AB1234", {"order_id": "O1", "filled_quantity": 10, "status": "COMPLETE"})
    await recorder.order_updated("AB1234", {"order_id": "O1", "filled_quantity": 10, "status": "COMPLETE"})
    assert [f.trade_id for f in await log.of_order("AB1234", "O1")] == ["T1", "T2"]
    assert kite.reads == 1  # the repeat found the log complete for the order
    charges = await log.charges_of("AB1234", "O1")
    assert charges is not None and charges.source is ChargeSource.CONTRACT_NOTE and charges.quantity == 10
    assert kite.noted[0].average_price == Decimal("1500.6")


async def test_a_reconciliation_stores_what_a_failed_update_read_missed(database: Database) -> None:
    kite, clock = ScriptedKite(), Clock(datetime(2026, 12, 3, 4, 0, tzinfo=UTC))
    recorder, log = FillRecorder(FillLog(database), kite, clock, estimated), FillLog(database)
    kite.trades = [trade("T1", "O1", 10, "1500")]
    kite.down = True
    await recorder.order_updated("AB1234", {"order_id": "O1", "filled_quantity": 10})  # logged, not raised
    assert await log.of_order("AB1234", "O1") == []
    kite.down = False
    assert await recorder.reconcile("AB1234") == 1
    assert await recorder.reconcile("AB1234") == 0
    assert len(await log.fills(FillQuery(("AB1234",)))) == 1


async def test_a_failed_reconciliation_leaves_the_watch_mark_so_the_next_day_records_a_gap(database: Database) -> None:
    kite, clock = ScriptedKite(), Clock(datetime(2026, 12, 1, 4, 0, tzinfo=UTC))  # 09:30 IST on 1 Dec
    recorder, log = FillRecorder(FillLog(database), kite, clock, estimated), FillLog(database)
    await recorder.reconcile("AB1234")
    clock.now += timedelta(hours=5)
    kite.down = True
    with pytest.raises(GatewayError):
        await recorder.reconcile("AB1234")
    kite.down = False
    clock.now = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
    await recorder.reconcile("AB1234")
    (gap,) = await log.gaps(("AB1234",), None, date(2026, 12, 3))
    assert (gap.start, gap.end) == (date(2026, 12, 1), date(2026, 12, 2))
    assert "2026-12-01 09:30 IST" in gap.reason and "Kite only lists the current day's trades" in gap.reason


async def test_a_mark_after_the_days_last_session_leaves_no_gap_for_that_day(database: Database) -> None:
    kite, clock = ScriptedKite(), Clock(datetime(2026, 12, 1, 18, 40, tzinfo=UTC))  # 00:10 IST on 2 Dec
    recorder, log = FillRecorder(FillLog(database), kite, clock, estimated), FillLog(database)
    clock.now = datetime(2026, 12, 1, 18, 28, tzinfo=UTC)  # 23:58 IST on 1 Dec
    await recorder.reconcile("AB1234")
    clock.now = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    await recorder.reconcile("AB1234")
    assert await log.gaps(("AB1234",), None, date(2026, 12, 3)) == []


async def test_charges_fall_back_to_the_estimate_and_are_taken_from_kite_once_it_answers(database: Database) -> None:
    kite, clock = ScriptedKite(), Clock(datetime(2026, 12, 3, 4, 0, tzinfo=UTC))
    recorder, log = FillRecorder(FillLog(database), kite, clock, estimated), FillLog(database)
    kite.trades = [trade("T1", "O1", 10, "1500")]
    kite.notes_down = True
    await recorder.reconcile("AB1234")
    first = await log.charges_of("AB1234", "O1")
    assert first is not None and first.source is ChargeSource.ESTIMATED and first.charges.brokerage == 20
    kite.notes_down = False
    await recorder.reconcile("AB1234")
    second = await log.charges_of("AB1234", "O1")
    assert second is not None and second.source is ChargeSource.CONTRACT_NOTE
    assert second.charges.stamp_duty == Decimal("1.5")


async def test_a_further_fill_of_a_charged_order_makes_its_charges_current(database: Database) -> None:
    kite, clock = ScriptedKite(), Clock(datetime(2026, 12, 3, 4, 0, tzinfo=UTC))
    recorder, log = FillRecorder(FillLog(database), kite, clock, estimated), FillLog(database)
    kite.trades = [trade("T1", "O1", 4, "1500")]
    await recorder.order_updated("AB1234", {"order_id": "O1", "filled_quantity": 4, "status": "OPEN"})
    kite.trades.append(trade("T2", "O1", 6, "1500", at="2026-12-03 09:25:00"))
    await recorder.order_updated("AB1234", {"order_id": "O1", "filled_quantity": 10, "status": "COMPLETE"})
    charges = await log.charges_of("AB1234", "O1")
    assert charges is not None and charges.quantity == 10 and charges.charges.stamp_duty == Decimal("1.5")


def test_rows_that_are_not_complete_trades_are_not_fills() -> None:
    assert fill_of("AB1234", {**trade("T1", "O1", 0, "1")}) is None
    assert fill_of("AB1234", {**trade("T1", "O1", 1, "1"), "transaction_type": ""}) is None
    assert fill_of("AB1234", {**trade("T1", "O1", 1, "1"), "fill_timestamp": None, "exchange_timestamp": "x"}) is None
    naive = fill_of("AB1234", {**trade("T1", "O1", 1, "1"), "fill_timestamp": datetime(2026, 12, 3, 9, 20)})
    assert naive is not None and naive.filled_at.utcoffset() == timedelta(hours=5, minutes=30)


def test_instrument_types_come_from_kites_symbols() -> None:
    assert [instrument_type_of(e, s) for e, s in [("NSE", "INFY"), ("NFO", "NIFTY26DECFUT"),
            ("NFO", "NIFTY26DEC24000CE"), ("MCX", "CRUDEOIL26DEC5000PE"), ("CDS", "USDINR26DECFUT")]] == [
        "EQ", "FUT", "CE", "PE", "FUT"]  # fmt: skip


async def test_a_burst_of_fill_updates_is_stored_by_one_read_of_the_days_trades(database: Database) -> None:
    kite, clock = ScriptedKite(), Clock(datetime(2026, 12, 3, 4, 0, tzinfo=UTC))
    gate = asyncio.Event()

    async def wait(_seconds: float) -> None:  # the coalescing wait, ended by the test
        await gate.wait()

    recorder = FillRecorder(FillLog(database), kite, clock, estimated, coalesce=2.0, sleep=wait)
    kite.trades = [trade(f"T{i}", f"O{i}", 1, "1500") for i in range(5)]
    for i in range(5):
        await recorder.order_updated("AB1234", {"order_id": f"O{i}", "filled_quantity": 1, "status": "COMPLETE"})
    assert kite.reads == 0  # nothing read while the burst goes on
    gate.set()
    await recorder._reading["AB1234"]  # the one coalesced read
    assert kite.reads == 1
    assert len(await FillLog(database).fills(FillQuery(("AB1234",)))) == 5
    assert {o.order_id for o in kite.noted} == {f"O{i}" for i in range(5)}  # one contract-note call for all
    await recorder.stop()

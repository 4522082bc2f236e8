"""The fill log on both backends: a trade reported twice (an order's trades, then the day's at a
reconciliation; or two replicas at once) is stored once; queries filter by account, dates, side
and symbol and page in fill order; charges are replaced for the order; gaps are listed when they
overlap a range; the watch mark never moves back."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from kite_gateway.core.reports import Charges, ChargeSource, FillGap, OrderCharges, Side
from kite_gateway.storage import Database, FillLog, FillQuery
from tests.core.reports.fills import fill

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


async def test_a_trade_reported_twice_or_by_racing_writers_is_stored_once(database: Database) -> None:
    log = FillLog(database)
    trade = fill("2026-12-03 09:20", "BUY", 10, "1500.05")
    assert await log.record([trade], "order_update", NOW) == [trade]
    assert await log.record([trade], "reconciliation", NOW) == []
    other = fill("2026-12-03 09:21", "BUY", 5, "1500.10")
    stored = await asyncio.gather(*(log.record([other], "reconciliation", NOW) for _ in range(8)))
    assert sum(len(s) for s in stored) == 1
    assert [f.trade_id for f in await log.fills(FillQuery(("AB1234",)))] == [trade.trade_id, other.trade_id]


async def test_a_stored_fill_reads_back_exactly(database: Database) -> None:
    log = FillLog(database)
    trade = replace(fill("2026-12-03 15:29", "SELL", 75, "120.05", symbol="NIFTY26DEC24000CE", exchange="NFO",
                         product="NRML", instrument_type="CE"), multiplier=Decimal("1"))  # fmt: skip
    await log.record([trade], "order_update", NOW)
    (back,) = await log.fills(FillQuery(("AB1234",)))
    assert back == replace(trade, filled_at=trade.filled_at.astimezone(UTC))
    assert back.trade_date == date(2026, 12, 3)


async def test_queries_filter_by_account_dates_side_and_symbol_and_page_in_fill_order(database: Database) -> None:
    log = FillLog(database)
    fills = [
        fill("2026-12-01 09:20", "BUY", 10, "100"),
        fill("2026-12-02 09:20", "SELL", 10, "110"),
        fill("2026-12-02 09:21", "BUY", 1, "50", symbol="TCS"),
        fill("2026-12-03 09:20", "BUY", 3, "100", account_id="ZZ9999"),
    ]
    await log.record(fills, "reconciliation", NOW)
    assert len(await log.fills(FillQuery(("AB1234",), date(2026, 12, 2), date(2026, 12, 2)))) == 2
    assert [f.side for f in await log.fills(FillQuery(("AB1234",), side=Side.SELL))] == [Side.SELL]
    assert [f.tradingsymbol for f in await log.fills(FillQuery(("AB1234",), tradingsymbol="TCS"))] == ["TCS"]
    assert len(await log.fills(FillQuery(("AB1234", "ZZ9999")))) == 4
    first = await log.fills(FillQuery(("AB1234",)), limit=2)
    last = first[-1]
    key = (last.filled_at.astimezone(UTC).isoformat(timespec="microseconds"), last.account_id, last.order_id,
           last.trade_id)  # fmt: skip
    rest = await log.fills(FillQuery(("AB1234",)), after=key, limit=2)
    assert [f.trade_id for f in first + rest] == [f.trade_id for f in fills[:3]]
    assert await log.fills(FillQuery(())) == []


async def test_an_orders_charges_are_replaced_when_it_fills_further(database: Database) -> None:
    log = FillLog(database)
    first = OrderCharges(
        "AB1234", "O1", date(2026, 12, 3), Charges(brokerage=Decimal("1.5")), ChargeSource.ESTIMATED, 10
    )
    await log.save_charges([first], NOW)
    later = replace(first, charges=Charges(brokerage=Decimal("3"), transaction_tax=Decimal("1"), gst=Decimal("0.54")),
                    source=ChargeSource.CONTRACT_NOTE, quantity=20)  # fmt: skip
    await log.save_charges([later], NOW)
    assert await log.charges_of("AB1234", "O1") == later
    assert await log.charges(("AB1234",), date(2026, 12, 3), date(2026, 12, 3)) == {"O1": later}
    assert await log.charges(("AB1234",), date(2026, 12, 4), None) == {}


async def test_gaps_are_listed_when_they_overlap_the_range(database: Database) -> None:
    log = FillLog(database)
    await log.add_gap(FillGap("AB1234", date(2026, 11, 27), date(2026, 11, 30), "not watched", NOW))
    assert len(await log.gaps(("AB1234",), date(2026, 11, 30), date(2026, 12, 3))) == 1
    assert len(await log.gaps(("AB1234",), None, date(2026, 11, 27))) == 1
    assert await log.gaps(("AB1234",), date(2026, 12, 1), date(2026, 12, 3)) == []
    assert await log.gaps(("ZZ9999",), None, date(2026, 12, 3)) == []


async def test_the_watch_mark_never_moves_back(database: Database) -> None:
    log = FillLog(database)
    assert await log.watched_at("AB1234") is None
    await log.watched("AB1234", NOW)
    await log.watched("AB1234", NOW - timedelta(hours=1))
    assert await log.watched_at("AB1234") == NOW


async def test_count_counts_what_the_same_query_would_list(database: Database) -> None:
    log = FillLog(database)
    await log.record([fill("2026-12-01", "BUY", 1, "1"), fill("2026-12-02", "SELL", 1, "1"),
                      fill("2026-12-02", "BUY", 1, "1", account_id="ZZ9999")], "test", NOW)  # fmt: skip
    for query in (FillQuery(("AB1234",)), FillQuery(("AB1234", "ZZ9999"), None, date(2026, 12, 1)),
                  FillQuery(("AB1234", "ZZ9999"), side=Side.BUY), FillQuery(())):  # fmt: skip
        assert await log.count(query) == len(await log.fills(query))


async def test_an_estimate_racing_in_after_kites_note_of_the_same_quantity_does_not_replace_it(
    database: Database,
) -> None:
    log = FillLog(database)
    note = ChargeSource.CONTRACT_NOTE
    noted = OrderCharges("AB1234", "O1", date(2026, 12, 3), Charges(brokerage=Decimal("20")), note, 10)
    await log.save_charges([noted], NOW)
    await log.save_charges(
        [replace(noted, charges=Charges(brokerage=Decimal("19")), source=ChargeSource.ESTIMATED)], NOW
    )
    assert await log.charges_of("AB1234", "O1") == noted
    # The order filled further: the note is stale, the estimate of the new quantity stands until Kite's.
    grown = replace(noted, charges=Charges(brokerage=Decimal("20")), source=ChargeSource.ESTIMATED, quantity=15)
    await log.save_charges([grown], NOW)
    assert await log.charges_of("AB1234", "O1") == grown
    newer = replace(grown, source=ChargeSource.CONTRACT_NOTE, charges=Charges(brokerage=Decimal("20.5")))
    await log.save_charges([newer], NOW)
    assert await log.charges_of("AB1234", "O1") == newer

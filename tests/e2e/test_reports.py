"""ReportService against the paper gateway: today's orders reach the fill log (by their updates)
and the tradebook and daily report; a history carried in from earlier days closes against its own
recorded cost; days the gateway did not watch become gaps the reports carry; paging, scopes and
bad input answer as the contract says."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from google.type.date_pb2 import Date
from kite_gateway_api.v1 import common_pb2, order_pb2, report_pb2, report_pb2_grpc

from kite_gateway.core.reports import Fill, Side
from kite_gateway.grpc.mapping import from_decimal_pb
from kite_simulator import ThreadedSimulator
from kite_wire import IST
from tests.e2e.conftest import Stack, market_buy, start_stack, stop_stack

ACCOUNT = "ZS0001"


@pytest.fixture
async def reporting(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    running = await start_stack(tmp_path, sim, sealing_key)
    yield running
    await stop_stack(running)


def reports_of(stack: Stack) -> report_pb2_grpc.ReportServiceStub:
    return report_pb2_grpc.ReportServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{stack.gateway.port}"))


def pb_date(day: date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


def today(stack: Stack) -> date:
    return stack.sim.clock.now().astimezone(IST).date()


def scope(*accounts: str) -> report_pb2.ReportScope:
    return report_pb2.ReportScope(account_ids=list(accounts or (ACCOUNT,)))


def days(start: date, end: date) -> report_pb2.DateRange:
    return report_pb2.DateRange(start=pb_date(start), end=pb_date(end))


async def place(stack: Stack, client_order_id: str, symbol: str, quantity: int, side: str, product: int) -> str:
    params = market_buy(symbol, quantity, product=product)
    if side == "SELL":
        params.transaction_type = common_pb2.TRANSACTION_TYPE_SELL
    answer = await stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id, params=params)
    )
    return str(answer.order_id)


def kite_average(stack: Stack, order_id: str) -> Decimal:
    (order,) = [o for o in stack.kite_orders(ACCOUNT) if o["order_id"] == order_id]
    assert order["status"] == "COMPLETE"
    return Decimal(str(order["average_price"]))


async def eventually_async(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 15.0) -> None:
    """Wait until an awaited `check()` holds (checked every few milliseconds), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


async def test_todays_fills_reach_the_tradebook_and_the_daily_report_with_kites_charges(reporting: Stack) -> None:
    stack, reports = reporting, reports_of(reporting)
    buy = await place(stack, "rep-buy", "NSE:SBIN", 3, "BUY", common_pb2.PRODUCT_MIS)
    sell = await place(stack, "rep-sell", "NSE:SBIN", 3, "SELL", common_pb2.PRODUCT_MIS)
    keep = await place(stack, "rep-keep", "NSE:INFY", 2, "BUY", common_pb2.PRODUCT_CNC)
    day = today(stack)

    async def fills() -> list[report_pb2.Fill]:
        return list(
            (await reports.GetTradebook(report_pb2.GetTradebookRequest(scope=scope(), dates=days(day, day)))).fills
        )

    recorded: list[report_pb2.Fill] = []

    async def poll() -> bool:
        recorded[:] = await fills()
        return len(recorded) == 3

    await eventually_async(poll, "the three orders' fills are in the fill log (from their order updates)")
    assert {f.order_id for f in recorded} == {buy, sell, keep}
    daily = await reports.GetDailyReport(report_pb2.GetDailyReportRequest(scope=scope(), date=pb_date(day)))
    (account,) = daily.accounts
    assert {(c.status, c.count) for c in account.orders} == {(order_pb2.ORDER_STATUS_COMPLETE, 3)}
    # The intraday round trip realises (sell - buy) x 3 at Kite's own average prices.
    realised = (kite_average(stack, sell) - kite_average(stack, buy)) * 3
    assert from_decimal_pb(account.pnl.realised, "realised") == realised
    assert account.pnl.open_quantity == 2  # the CNC buy is still held
    charges = await stack.runtime.fill_recorder.fills.charges((ACCOUNT,), day, day)  # type: ignore[union-attr]
    assert {c.source.value for c in charges.values()} == {"contract_note"}
    total = sum((c.charges.total for c in charges.values()), Decimal(0))
    assert total > 0 and from_decimal_pb(account.pnl.charges.total, "charges") == total
    assert not daily.gaps


def seeded(day: date, clock: str, side: str, quantity: int, price: str, order_id: str,
           trade_id: str, symbol: str = "INFY") -> Fill:  # fmt: skip
    moment = datetime.fromisoformat(f"{day.isoformat()} {clock}").replace(tzinfo=IST)
    return Fill(ACCOUNT, trade_id, order_id, "NSE", symbol, 408065, "EQ", Side(side), "CNC", quantity,
                Decimal(price), moment)  # fmt: skip


async def test_a_history_carried_in_from_earlier_days_closes_against_its_recorded_cost(reporting: Stack) -> None:
    stack, reports = reporting, reports_of(reporting)
    log = stack.runtime.fill_recorder.fills  # type: ignore[union-attr]
    day = today(stack)
    first, second = day - timedelta(days=3), day - timedelta(days=2)
    await log.record([
        seeded(first, "09:20:00", "BUY", 40, "999", "H1", "h1"),
        seeded(first, "09:21:00", "BUY", 60, "1000.50", "H1", "h2"),  # one order, two partial fills
        seeded(second, "11:00:00", "SELL", 60, "1030", "H2", "h3"),
    ], "test", datetime.now(UTC))  # fmt: skip
    statement = await reports.GetPnlStatement(report_pb2.GetPnlStatementRequest(scope=scope(), dates=days(second, day)))
    (account,) = statement.accounts
    (infy,) = [line for line in account.by_instrument if line.key == "EQ:INFY"]
    # The sell of 60 closes 40 @ 999 and 20 of the 60 @ 1000.50: 40 x 31 + 20 x 29.50 = 1830.
    assert from_decimal_pb(infy.realised, "realised") == Decimal(1830)
    # 40 left @ 1000.50, marked at Kite's last price (today).
    mark = from_decimal_pb(infy.mark_price, "mark")
    assert infy.open_quantity == 40 and mark > 0
    assert from_decimal_pb(infy.unrealised, "unrealised") == (mark - Decimal("1000.50")) * 40
    assert [d.date.day for d in account.by_day] == [second.day]
    assert statement.consolidated.total.realised == account.total.realised


async def test_days_the_gateway_did_not_watch_are_gaps_every_report_over_them_carries(reporting: Stack) -> None:
    stack, reports = reporting, reports_of(reporting)
    log = stack.runtime.fill_recorder.fills  # type: ignore[union-attr]
    day = today(stack)
    await log.database.execute("DELETE FROM fill_watch WHERE account_id = ?", (ACCOUNT,))
    await log.watched(ACCOUNT, datetime.combine(day - timedelta(days=3), datetime.min.time(), IST).replace(hour=11))
    await stack.runtime.reconcile_fills()  # as at a start, or after an outage
    book = await reports.GetTradebook(
        report_pb2.GetTradebookRequest(scope=scope(), dates=days(day - timedelta(days=5), day))
    )
    (gap,) = book.gaps
    assert (gap.start.day, gap.end.day) == ((day - timedelta(days=3)).day, (day - timedelta(days=1)).day)
    assert "Kite only lists the current day's trades" in gap.reason
    statement = await reports.GetPnlStatement(report_pb2.GetPnlStatementRequest(scope=scope(), dates=days(day, day)))
    assert len(statement.gaps) == 1  # a gap before the range can change it: lots opened then are missing
    daily = await reports.GetDailyReport(report_pb2.GetDailyReportRequest(scope=scope(), date=pb_date(day)))
    assert not daily.gaps


async def test_the_tradebook_pages_in_fill_order_and_refuses_a_token_of_other_filters(reporting: Stack) -> None:
    stack, reports = reporting, reports_of(reporting)
    log = stack.runtime.fill_recorder.fills  # type: ignore[union-attr]
    day = today(stack) - timedelta(days=1)
    await log.record([seeded(day, f"10:0{i}:00", "BUY", 1, "100", f"P{i}", f"p{i}") for i in range(5)],
                     "test", datetime.now(UTC))  # fmt: skip
    request = report_pb2.GetTradebookRequest(scope=scope(), dates=days(day, day), page_size=2)
    seen: list[str] = []
    while True:
        page = await reports.GetTradebook(request)
        seen.extend(f.trade_id for f in page.fills)
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert seen == [f"p{i}" for i in range(5)]
    request.page_token = (await reports.GetTradebook(report_pb2.GetTradebookRequest(
        scope=scope(), dates=days(day, day), page_size=2))).next_page_token  # fmt: skip
    request.symbol = "NSE:TCS"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await reports.GetTradebook(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "filters changed" in (
        refused.value.details() or ""
    )


async def test_the_tax_pnl_puts_lots_in_their_buckets_and_states_its_rules(reporting: Stack) -> None:
    stack, reports = reporting, reports_of(reporting)
    log = stack.runtime.fill_recorder.fills  # type: ignore[union-attr]
    await log.record([
        seeded(date(2025, 6, 10), "10:00:00", "BUY", 100, "1000", "T1", "t1"),  # held 6 months: short term
        seeded(date(2025, 12, 10), "10:00:00", "SELL", 100, "1200", "T2", "t2"),
        seeded(date(2026, 1, 5), "09:30:00", "BUY", 10, "1000", "T3", "t3"),  # bought and sold within the day
        seeded(date(2026, 1, 5), "14:30:00", "SELL", 10, "990", "T4", "t4"),
        replace(seeded(date(2025, 10, 1), "10:00:00", "BUY", 75, "24000", "T5", "t5"), exchange="NFO",
                tradingsymbol="NIFTY25OCTFUT", instrument_type="FUT", product="NRML"),
        replace(seeded(date(2025, 10, 20), "10:00:00", "SELL", 75, "23900", "T6", "t6"), exchange="NFO",
                tradingsymbol="NIFTY25OCTFUT", instrument_type="FUT", product="NRML"),
    ], "test", datetime.now(UTC))  # fmt: skip
    answer = await reports.GetTaxPnl(report_pb2.GetTaxPnlRequest(scope=scope(), financial_year=2025))
    (account,) = answer.accounts
    buckets = {b.bucket: b for b in account.buckets}
    stcg = buckets[report_pb2.TAX_BUCKET_SHORT_TERM_CAPITAL_GAINS]
    assert from_decimal_pb(stcg.gross, "gross") == Decimal(20000)  # 100 x (1200 - 1000)
    (lot,) = stcg.lots
    assert (lot.quantity, lot.holding_days) == (100, 183)
    speculative = buckets[report_pb2.TAX_BUCKET_SPECULATIVE_BUSINESS]
    assert from_decimal_pb(speculative.gross, "gross") == Decimal(-100)  # 10 x (990 - 1000)
    assert from_decimal_pb(speculative.turnover, "turnover") == Decimal(100)  # |P&L|
    futures = buckets[report_pb2.TAX_BUCKET_NON_SPECULATIVE_BUSINESS]
    assert from_decimal_pb(futures.gross, "gross") == Decimal(-7500)  # 75 x (23900 - 24000)
    assert from_decimal_pb(futures.turnover, "turnover") == Decimal(7500)  # |P&L|, not the contract value
    assert any("holding period" in rule.name and rule.source and rule.taken_on for rule in answer.rules)
    assert answer.not_covered


@pytest.mark.parametrize(
    ("request_of", "code", "words"),
    [
        (lambda d: report_pb2.GetTradebookRequest(scope=scope(), dates=days(d, d - timedelta(days=1))),
         grpc.StatusCode.INVALID_ARGUMENT, "after it ends"),
        (lambda d: report_pb2.GetTradebookRequest(scope=scope()), grpc.StatusCode.INVALID_ARGUMENT, "dates.start"),
        (lambda d: report_pb2.GetPnlStatementRequest(scope=report_pb2.ReportScope(account_group="nobody"),
                                                     dates=days(d, d)), grpc.StatusCode.NOT_FOUND, "nobody"),
        (lambda d: report_pb2.GetPnlStatementRequest(scope=scope("XX0000"), dates=days(d, d)),
         grpc.StatusCode.NOT_FOUND, "XX0000"),
        (lambda d: report_pb2.GetDailyReportRequest(scope=scope(), date=Date(year=9999, month=12, day=31)),
         grpc.StatusCode.INVALID_ARGUMENT, "out of range"),
        (lambda d: report_pb2.GetTradebookRequest(scope=scope(), dates=days(d, d), symbol="INFY"),
         grpc.StatusCode.INVALID_ARGUMENT, "EXCHANGE:TRADINGSYMBOL"),
        (lambda d: report_pb2.GetTaxPnlRequest(scope=scope(), financial_year=1999),
         grpc.StatusCode.INVALID_ARGUMENT, "financial_year"),
    ],
)  # fmt: skip
async def test_bad_report_requests_get_a_status_a_person_can_act_on(
    reporting: Stack, request_of: object, code: grpc.StatusCode, words: str
) -> None:
    reports = reports_of(reporting)
    message = request_of(today(reporting))  # type: ignore[operator]
    method = {
        report_pb2.GetTradebookRequest: reports.GetTradebook,
        report_pb2.GetPnlStatementRequest: reports.GetPnlStatement,
        report_pb2.GetDailyReportRequest: reports.GetDailyReport,
        report_pb2.GetTaxPnlRequest: reports.GetTaxPnl,
    }[type(message)]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await method(message)
    assert refused.value.code() == code and words in (refused.value.details() or "")

"""PortfolioService and MarketDataService end to end, and how reads survive Kite's limits and faults."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.decimal_pb2 import Decimal as Decimal_pb
from kite_gateway_api.v1 import common_pb2, market_data_pb2, order_pb2, portfolio_pb2

from kite_gateway.grpc.mapping import decimal_pb, from_decimal_pb
from kite_simulator import Fault, ThreadedSimulator
from kite_wire import IST
from tests.e2e.conftest import Stack, market_buy, start_stack, status_of, stop_stack
from tests.simulator.conftest import MORNING, regular_hours

ACCOUNT = "ZS0001"


def ref(symbol: str) -> common_pb2.InstrumentRef:
    return common_pb2.InstrumentRef(symbol=symbol)


def amount(message: Decimal_pb) -> Decimal:
    return from_decimal_pb(message, "test")


async def buy(stack: Stack, client_order_id: str, **fields: Any) -> None:
    await stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id, params=market_buy(**fields))
    )


async def test_positions_carry_pnl_that_adds_up(stack: Stack) -> None:
    await buy(stack, "p-1", quantity=10, product=common_pb2.PRODUCT_MIS)
    await stack.sim.advance_async(600)
    reply = await stack.portfolio.GetPositions(portfolio_pb2.GetPositionsRequest(account_id=ACCOUNT))
    (position,) = reply.net
    assert position.symbol == "NSE:INFY" and position.quantity == 10 and position.product == common_pb2.PRODUCT_MIS
    expected = (amount(position.last_price) - amount(position.average_price)) * 10
    assert amount(position.pnl) == expected == amount(reply.total_pnl)
    assert [p.symbol for p in reply.day] == ["NSE:INFY"]


async def test_holdings_and_their_summary(stack: Stack) -> None:
    reply = await stack.portfolio.GetHoldings(portfolio_pb2.GetHoldingsRequest(account_id=ACCOUNT))
    assert {h.symbol: h.quantity for h in reply.holdings} == {"NSE:INFY": 10, "NSE:RELIANCE": 5, "NSE:TCS": 2}
    invested = sum(amount(h.average_price) * h.quantity for h in reply.holdings)
    assert amount(reply.summary.invested_amount) == invested == Decimal(10 * 1400 + 5 * 1200 + 2 * 3000)
    assert amount(reply.summary.total_pnl) == sum(amount(h.pnl) for h in reply.holdings)


async def test_a_position_converts_between_products_and_is_audited(stack: Stack) -> None:
    await buy(stack, "c-1", quantity=4)
    await stack.portfolio.ConvertPosition(
        portfolio_pb2.ConvertPositionRequest(
            account_id=ACCOUNT,
            instrument=ref("NSE:INFY"),
            transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
            position_type=portfolio_pb2.POSITION_TYPE_DAY,
            quantity=3,
            old_product=common_pb2.PRODUCT_CNC,
            new_product=common_pb2.PRODUCT_MIS,
        )
    )
    net = (await stack.portfolio.GetPositions(portfolio_pb2.GetPositionsRequest(account_id=ACCOUNT))).net
    assert sorted((p.product, p.quantity) for p in net) == [(common_pb2.PRODUCT_CNC, 1), (common_pb2.PRODUCT_MIS, 3)]
    events = (await stack.orders.ListAuditEvents(order_pb2.ListAuditEventsRequest(account_id=ACCOUNT))).events
    assert events[-1].action == order_pb2.AUDIT_ACTION_CONVERT_POSITION and events[-1].status_code == 0


async def test_the_consolidated_view_sums_accounts_and_reports_the_unreadable_one(stack: Stack) -> None:
    await buy(stack, "x-1", quantity=2)
    await stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id="ZS0002", client_order_id="x-2", params=market_buy(quantity=3))
    )
    token = stack.runtime.accounts.get("ZS0002").kite.client.access_token  # type: ignore[union-attr]
    both = await stack.portfolio.GetConsolidatedPortfolio(portfolio_pb2.GetConsolidatedPortfolioRequest())
    infy = next(i for i in both.instruments if i.symbol == "NSE:INFY")
    assert infy.position_quantity == 5 and infy.holding_quantity == 10
    assert {a.account_id: (a.position_quantity, a.holding_quantity) for a in infy.accounts} == {
        "ZS0001": (2, 10),
        "ZS0002": (3, 0),
    }
    assert amount(both.total_pnl) == sum(amount(i.pnl) for i in both.instruments)
    stack.sim.on_loop(lambda s: s.sessions.invalidate("sim_api_key", token))
    partial = await stack.portfolio.GetConsolidatedPortfolio(portfolio_pb2.GetConsolidatedPortfolioRequest())
    assert [a.WhichOneof("result") for a in partial.accounts] == ["totals", "failure"]
    assert partial.accounts[1].failure.code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert next(i for i in partial.instruments if i.symbol == "NSE:INFY").position_quantity == 2


async def test_quotes_ltp_and_ohlc_for_many_instruments_at_once(stack: Stack) -> None:
    refs = [ref("NSE:INFY"), common_pb2.InstrumentRef(instrument_token=408065), ref("NSE:NIFTY 50"), ref("NSE:NOSUCH")]
    quote = await stack.market.GetQuote(market_data_pb2.GetQuoteRequest(account_id=ACCOUNT, instruments=refs))
    ltp = await stack.market.GetLtp(market_data_pb2.GetLtpRequest(account_id=ACCOUNT, instruments=refs))
    ohlc = await stack.market.GetOhlc(market_data_pb2.GetOhlcRequest(account_id=ACCOUNT, instruments=refs))
    assert [q.symbol for q in quote.quotes] == ["NSE:INFY", "NSE:INFY", "NSE:NIFTY 50"]
    assert [r.symbol for r in quote.not_found] == ["NSE:NOSUCH"] == [r.symbol for r in ltp.not_found]
    infy = quote.quotes[0]
    assert infy.last_price == ltp.prices[0].last_price == ohlc.ohlc[0].last_price
    assert len(infy.depth.buy) == 5 and amount(infy.depth.sell[0].price) == amount(infy.last_price)
    assert amount(infy.lower_circuit_limit) < amount(infy.last_price) < amount(infy.upper_circuit_limit)


async def test_more_instruments_than_kite_takes_in_one_call_are_split(stack: Stack) -> None:
    symbols = [i.symbol for i in stack.sim.universe][:1200]
    refs = [ref(s) for s in symbols]
    reply = await stack.market.GetQuote(market_data_pb2.GetQuoteRequest(account_id=ACCOUNT, instruments=refs))
    assert [q.symbol for q in reply.quotes] == symbols
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.market.GetLtp(
            market_data_pb2.GetLtpRequest(account_id=ACCOUNT, instruments=[ref("NSE:INFY")] * 5001)
        )
    assert status_of(caught.value)[3][0][0] == "instruments"


async def test_ltp_is_served_from_a_five_second_cache(stack: Stack) -> None:
    request = market_data_pb2.GetLtpRequest(account_id=ACCOUNT, instruments=[ref("NSE:INFY")])
    first = await stack.market.GetLtp(request)
    stack.sim.faults.add(Fault("GET", "/quote/ltp", "error", http_status=500, times=99))
    assert (await stack.market.GetLtp(request)).prices == first.prices  # Kite is never asked


async def test_historical_candles_longer_than_kite_allows_are_split_and_stitched(stack: Stack) -> None:
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(MORNING - timedelta(days=75))
    end.FromDatetime(MORNING)
    reply = await stack.market.GetHistoricalData(
        market_data_pb2.GetHistoricalDataRequest(
            account_id=ACCOUNT,
            instrument=ref("NSE:INFY"),
            interval=market_data_pb2.CANDLE_INTERVAL_MINUTE,
            start_time=start,
            end_time=end,
        )
    )
    times = [c.time.ToSeconds() for c in reply.candles]
    assert times == sorted(set(times))  # no duplicates at the seam
    days = {c.time.ToDatetime().date() for c in reply.candles}
    # The first day from 10:30 (300 minutes), full sessions between, today's completed minutes to 10:30 (75).
    assert len(reply.candles) == 300 + 375 * (len(days) - 2) + 75
    assert (MORNING - timedelta(days=75)).date() <= min(days)


async def test_instrument_search_ranks_and_filters(stack: Stack) -> None:
    exact = await stack.market.SearchInstruments(
        market_data_pb2.SearchInstrumentsRequest(account_id=ACCOUNT, query="infy")
    )
    assert [i.symbol for i in exact.instruments[:2]] == ["NSE:INFY", "BSE:INFY"]
    options = await stack.market.SearchInstruments(
        market_data_pb2.SearchInstrumentsRequest(
            account_id=ACCOUNT,
            query="NIFTY",
            exchanges=[common_pb2.EXCHANGE_NFO],
            instrument_types=[common_pb2.INSTRUMENT_TYPE_CE],
            strike_min=decimal_pb(24000),
            strike_max=decimal_pb(24000),
            page_size=3,
        )
    )
    assert options.total_matches > 3 and len(options.instruments) == 3
    assert all(
        i.instrument_type == common_pb2.INSTRUMENT_TYPE_CE and amount(i.strike) == 24000 for i in options.instruments
    )
    expiries = [(i.expiry.year, i.expiry.month, i.expiry.day) for i in options.instruments]
    assert expiries == sorted(expiries)
    looked_up = await stack.market.GetInstruments(
        market_data_pb2.GetInstrumentsRequest(
            account_id=ACCOUNT, instruments=[common_pb2.InstrumentRef(instrument_token=408065)]
        )
    )
    (infy,) = looked_up.instruments
    assert (infy.symbol, infy.lot_size, amount(infy.tick_size)) == ("NSE:INFY", 1, Decimal("0.05"))


async def test_a_search_pages_through_every_match_with_next_page_token_and_no_repeats(stack: Stack) -> None:
    request = market_data_pb2.SearchInstrumentsRequest(
        account_id=ACCOUNT, query="NIFTY", exchanges=[common_pb2.EXCHANGE_NFO], page_size=40
    )
    seen: list[str] = []
    while True:
        page = await stack.market.SearchInstruments(request)
        seen += [i.symbol for i in page.instruments]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert page.total_matches > 80 and len(seen) == page.total_matches == len(set(seen))
    request.query = "BANKNIFTY"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.market.SearchInstruments(request)
    code, _, _, violations = status_of(caught.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "page_token"
    assert "filters changed" in (caught.value.details() or "")


async def test_a_day_candle_carries_its_trading_date_beside_its_utc_timestamp(stack: Stack) -> None:
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(datetime(2026, 11, 2, tzinfo=UTC))
    end.FromDatetime(datetime(2026, 11, 7, tzinfo=UTC))
    reply = await stack.market.GetHistoricalData(
        market_data_pb2.GetHistoricalDataRequest(
            account_id=ACCOUNT,
            instrument=ref("NSE:INFY"),
            interval=market_data_pb2.CANDLE_INTERVAL_DAY,
            start_time=start,
            end_time=end,
        )
    )
    assert reply.candles
    for candle in reply.candles:
        day = date(candle.trading_date.year, candle.trading_date.month, candle.trading_date.day)
        assert candle.time.ToDatetime(UTC) == datetime.combine(day, clock_time(), IST).astimezone(UTC)
        assert candle.time.ToDatetime(UTC).date() == day - timedelta(days=1)  # 18:30 UTC the day before


async def test_a_kite_5xx_on_a_read_is_retried(stack: Stack) -> None:
    stack.sim.faults.add(Fault("GET", "/portfolio/holdings", "error", http_status=502, times=2))
    reply = await stack.portfolio.GetHoldings(portfolio_pb2.GetHoldingsRequest(account_id=ACCOUNT))
    assert len(reply.holdings) == 3


async def test_a_read_that_keeps_failing_is_unavailable_with_kites_words(stack: Stack) -> None:
    stack.sim.faults.add(Fault("GET", "/portfolio/holdings", "error", http_status=503, message="OMS down", times=9))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.portfolio.GetHoldings(portfolio_pb2.GetHoldingsRequest(account_id=ACCOUNT))
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason, metadata["kite_message"]) == (grpc.StatusCode.UNAVAILABLE, "KITE_UNAVAILABLE", "OMS down")


async def test_a_429_storm_backs_off_and_recovers(stack: Stack) -> None:
    stack.sim.faults.add(
        Fault("GET", "/portfolio/positions", "error", http_status=429, message="Too many requests", times=2)
    )
    reply = await stack.portfolio.GetPositions(portfolio_pb2.GetPositionsRequest(account_id=ACCOUNT))
    assert list(reply.net) == []


async def test_a_burst_of_callers_queues_instead_of_drawing_429s(tmp_path: Path, sealing_key: bytes) -> None:
    sim = ThreadedSimulator(regular_hours(rate_limit_scale=1.0))  # Kite's real per-second limits
    await sim.start()
    stack = await start_stack(tmp_path, sim, sealing_key, max_retries=0)
    try:
        request = market_data_pb2.GetQuoteRequest(account_id=ACCOUNT, instruments=[ref("NSE:INFY")])
        started = time.monotonic()
        replies = await asyncio.gather(*(stack.market.GetQuote(request) for _ in range(4)))
        assert all(r.quotes for r in replies)  # no 429 reached a caller (and no retry was allowed)
        assert time.monotonic() - started >= 2.5  # quotes are 1/s at Kite: the limiter spaced them
    finally:
        await stop_stack(stack)
        await sim.stop()

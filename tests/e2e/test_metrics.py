"""Prometheus metrics over HTTP: scraped after real traffic, checked for the named series."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from kite_gateway_api.v1 import market_data_pb2, order_pb2, portfolio_pb2
from prometheus_client.parser import text_string_to_metric_families

from kite_gateway.observability.metrics import REGISTRY
from kite_simulator import ThreadedSimulator
from kite_simulator.faults import Fault
from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.e2e.test_order_updates import completed, place, read_until, subscribe
from tests.e2e.test_streaming import open_stream, refs, ticks_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


@pytest.fixture
async def observed(stack: Stack) -> AsyncIterator[tuple[Stack, str]]:
    http = stack.runtime.http_endpoints("127.0.0.1", 0, metrics=True)
    await http.start()
    yield stack, f"http://127.0.0.1:{http.port}/metrics"
    await http.stop()


async def test_rpc_kite_ticker_subscriber_order_and_session_series_are_exported(observed: tuple[Stack, str]) -> None:
    stack, url = observed
    await stack.portfolio.GetPositions(portfolio_pb2.GetPositionsRequest(account_id="ZS0001"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stack.portfolio.GetPositions(portfolio_pb2.GetPositionsRequest(account_id="NOBODY"))
    stack.sim.faults.add(Fault("GET", "/portfolio/holdings", "error", http_status=400, error_type="InputException"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stack.portfolio.GetHoldings(portfolio_pb2.GetHoldingsRequest(account_id="ZS0001"))
    orders = subscribe(stack)
    ticks = open_stream(stack, "NSE:INFY", "NSE:TCS")
    await place(stack, "metrics-1")
    await read_until(orders, completed(1))
    await ticks_until(ticks, {"NSE:INFY", "NSE:TCS"})

    samples = await scrape(url)
    rpc = {"grpc_service": "kite_gateway.v1.PortfolioService", "grpc_method": "GetPositions", "grpc_type": "unary"}
    assert value(samples, "grpc_server_started_total", **rpc) >= 2
    assert value(samples, "grpc_server_handled_total", **rpc, grpc_code="OK") >= 1
    assert value(samples, "grpc_server_handled_total", **rpc, grpc_code="NOT_FOUND") >= 1
    assert value(samples, "grpc_server_handling_seconds_count", **rpc) >= 2
    assert value(samples, "grpc_server_msg_sent_total", grpc_method="StreamTicks", grpc_type="server_stream") >= 1
    assert value(samples, "kite_request_duration_seconds_count", endpoint_class="orders", method="place_order") >= 1
    # the bucket the order-acceptance SLO reads (deploy/prometheus-rule.yaml: le="2.0")
    place_order = {"grpc_service": "kite_gateway.v1.OrderService", "grpc_method": "PlaceOrder"}
    assert value(samples, "grpc_server_handling_seconds_bucket", **place_order, le="2.0") >= 1
    assert value(samples, "kite_request_errors_total", error_type="InputException") >= 1
    assert value(samples, "kite_rate_limiter_wait_seconds_count", endpoint_class="orders") >= 1
    assert value(samples, "kite_ticker_connections", account_id="ZS0001", state="UPSTREAM_STATE_CONNECTED") == 1
    assert value(samples, "kite_ticker_up", account_id="ZS0001") == 1
    assert ("kite_ticker_reconnects_total", frozenset({("account_id", "ZS0001")})) in samples
    assert value(samples, "kite_ticker_connection_uptime_seconds", account_id="ZS0001", connection="0") > 0
    assert value(samples, "kite_ticks_received_total", account_id="ZS0001") >= 2
    assert value(samples, "kite_gateway_ticks_sent_total", account_id="ZS0001") >= 2
    assert value(samples, "kite_gateway_tick_subscribers", account_id="ZS0001") == 1
    assert ("kite_gateway_subscriber_queue_depth", frozenset({("account_id", "ZS0001"), ("stat", "max")})) in samples
    assert value(samples, "kite_gateway_order_update_subscribers", account_id="ZS0001") == 1
    assert value(samples, "kite_gateway_order_updates_total", account_id="ZS0001", status="COMPLETE") >= 1
    assert value(samples, "kite_gateway_order_queue_depth", account_id="ZS0001") == 0
    assert value(samples, "kite_gateway_account_session", account_id="ZS0001", state="SESSION_STATE_ACTIVE") == 1
    session = stack.runtime.accounts.get("ZS0001")
    assert session.token_expires_at is not None
    expiry = value(samples, "kite_gateway_session_expiry_timestamp_seconds", account_id="ZS0001")
    assert expiry == session.token_expires_at.timestamp()
    orders.cancel()
    ticks.cancel()


async def test_an_engaged_kill_switch_reads_one_and_a_released_one_zero(observed: tuple[Stack, str]) -> None:
    stack, url = observed
    engage = order_pb2.SetKillSwitchRequest(account_id="ZS0001", engaged=True, reason="metrics")
    await stack.orders.SetKillSwitch(engage)
    assert value(await scrape(url), "kite_gateway_kill_switch_engaged", scope="ZS0001") == 1
    await stack.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(account_id="ZS0001", engaged=False))
    assert (await scrape(url))[("kite_gateway_kill_switch_engaged", frozenset({("scope", "ZS0001")}))] == 0
    gateway = order_pb2.SetKillSwitchRequest(engaged=True, reason="metrics")
    await stack.orders.SetKillSwitch(gateway)
    assert value(await scrape(url), "kite_gateway_kill_switch_engaged", scope="gateway") == 1


async def test_a_stream_the_caller_cancels_is_counted_as_cancelled(observed: tuple[Stack, str]) -> None:
    stack, url = observed
    stream = open_stream(stack, "NSE:INFY")
    await ticks_until(stream, {"NSE:INFY"})
    before = value(await scrape(url), "grpc_server_handled_total", grpc_method="StreamTicks", grpc_code="CANCELLED")
    stream.cancel()
    for _ in range(100):
        samples = await scrape(url)
        if value(samples, "grpc_server_handled_total", grpc_method="StreamTicks", grpc_code="CANCELLED") > before:
            break
    else:
        raise AssertionError("the cancelled stream was never counted")


async def test_metrics_can_be_turned_off(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> None:
    labels = {"grpc_type": "unary", "grpc_service": "kite_gateway.v1.MarketDataService", "grpc_method": "GetLtp"}
    before = REGISTRY.get_sample_value("grpc_server_started_total", labels) or 0.0
    stack = await start_stack(tmp_path, sim, sealing_key, metrics_enabled=False)
    try:
        request = market_data_pb2.GetLtpRequest(account_id="ZS0001", instruments=[refs("NSE:INFY")[0]])
        await stack.market.GetLtp(request)
    finally:
        await stop_stack(stack)
    assert (REGISTRY.get_sample_value("grpc_server_started_total", labels) or 0.0) == before
    http = stack.runtime.http_endpoints("127.0.0.1", 0)
    await http.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{http.port}/metrics") as r:
            assert r.status == 404
    finally:
        await http.stop()

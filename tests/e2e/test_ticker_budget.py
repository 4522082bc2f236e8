"""Kite allows three ticker connections per api_key, not per account: the accounts of one app
share them, what cannot be served is OVER_LIMIT, and no instrument is ever ACCEPTED and then
left silent on a connection Kite refuses. (Connections hold 2 instruments here instead of 3000,
so that a few instruments need several connections.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kite_gateway_api.v1 import market_data_pb2
from websockets.asyncio.client import ClientConnection, connect

from kite_gateway.streaming import upstream
from tests.e2e.conftest import Stack
from tests.e2e.test_streaming import next_event, refs, ticks_until

SYMBOLS = ("NSE:INFY", "NSE:TCS", "NSE:RELIANCE", "NSE:SBIN")
ACCEPTED, OVER_LIMIT = market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED, market_data_pb2.SUBSCRIPTION_STATE_OVER_LIMIT


@pytest.fixture(autouse=True)
def two_instruments_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "MAX_INSTRUMENTS", 2)


def stream(stack: Stack, account_id: str, *symbols: str) -> Any:
    return stack.market.StreamTicks(
        market_data_pb2.StreamTicksRequest(account_id=account_id, instruments=refs(*symbols))
    )


def states(started: market_data_pb2.StreamTicksResponse) -> dict[str, int]:
    return {s.instrument.symbol: s.state for s in started.started.statuses}


def sim_connections(stack: Stack) -> dict[str, int]:
    """Ticker connections the simulator (Kite) holds, per user."""
    held: dict[str, int] = {}
    for user_id in stack.sim.on_loop(lambda s: [c.session.user_id for c in s.ticker.connections]):
        held[user_id] = held.get(user_id, 0) + 1
    return held


def gateway_reconnects(stack: Stack) -> int:
    return sum(c.reconnects for t in stack.runtime.tick_streams.accounts.values() for c in t.ticker.connections)


async def test_two_accounts_of_one_api_key_share_three_ticker_connections_and_the_excess_is_over_limit(
    stack: Stack,
) -> None:
    await stack.runtime.watch_order_updates()  # each account opens its first connection (order updates)
    first = stream(stack, "ZS0001", *SYMBOLS)
    assert set(states(await next_event(first, "started")).values()) == {ACCEPTED}  # its 2 connections
    second = stream(stack, "ZS0002", *SYMBOLS)
    try:
        served = states(await next_event(second, "started"))
        assert served == {"NSE:INFY": ACCEPTED, "NSE:TCS": ACCEPTED, "NSE:RELIANCE": OVER_LIMIT, "NSE:SBIN": OVER_LIMIT}
        await ticks_until(first, set(SYMBOLS))
        await ticks_until(second, {"NSE:INFY", "NSE:TCS"})  # everything ACCEPTED ticks
        assert sim_connections(stack) == {"ZS0001": 2, "ZS0002": 1}
        assert gateway_reconnects(stack) == 0  # no connection was ever refused (429) and retried
    finally:
        first.cancel()
        second.cancel()


async def test_an_extra_connection_emptied_by_its_subscribers_goes_back_to_the_apps_budget(stack: Stack) -> None:
    await stack.runtime.watch_order_updates()
    first = stream(stack, "ZS0001", *SYMBOLS)
    assert set(states(await next_event(first, "started")).values()) == {ACCEPTED}
    first.cancel()
    second = stream(stack, "ZS0002", *SYMBOLS)
    try:
        assert set(states(await next_event(second, "started")).values()) == {ACCEPTED}
        await ticks_until(second, set(SYMBOLS))
        assert sim_connections(stack) == {"ZS0001": 1, "ZS0002": 2}
    finally:
        second.cancel()


@pytest.fixture
async def connections_taken_elsewhere(stack: Stack) -> AsyncIterator[list[ClientConnection]]:
    """The app's three connections, held by another program using the same api_key."""
    api_key, access_token = stack.sim.session_for("ZS0002")
    url = f"{stack.sim.ws_url}?api_key={api_key}&access_token={access_token}"
    held = [await connect(url, additional_headers={"X-Kite-Version": "3"}) for _ in range(3)]
    yield held
    for ws in held:
        await ws.close()


async def test_instruments_kite_refuses_a_connection_for_are_over_limit_not_accepted_and_silent(
    stack: Stack, connections_taken_elsewhere: list[ClientConnection]
) -> None:
    refused = stream(stack, "ZS0001", "NSE:INFY")
    try:
        started = (await next_event(refused, "started")).started
        (status,) = started.statuses
        assert status.state == OVER_LIMIT and "429" in status.message
    finally:
        refused.cancel()
    for ws in connections_taken_elsewhere:
        await ws.close()
    served = stream(stack, "ZS0001", "NSE:INFY")
    try:
        assert states(await next_event(served, "started")) == {"NSE:INFY": ACCEPTED}
        await ticks_until(served, {"NSE:INFY"})
    finally:
        served.cancel()

"""A gateway process killed (SIGKILL) while an order is on its way to Kite: the attempt was written
as sent, its outcome never was. The restarted gateway must neither lose it nor send it twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp
import grpc
import pytest
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, order_pb2, order_pb2_grpc

from kite_gateway.storage.idempotency import kite_tag
from kite_gateway.storage.sealing import Sealer
from kite_simulator import Fault, Simulator, SimulatorConfig
from tests.conftest import GatewayProcess
from tests.e2e.conftest import eventually, market_buy, status_of


@pytest.fixture
async def live_sim() -> AsyncIterator[Simulator]:
    """A simulator on the real clock (the gateway process decides token expiry by it)."""
    simulator = Simulator(SimulatorConfig())
    await simulator.start()
    yield simulator
    await simulator.stop()


async def start_gateway(tmp_path: Path, sim: Simulator, key: bytes) -> GatewayProcess:
    env = {
        "KITE_API_ENDPOINT": sim.api_url,
        "KITE_WEBSOCKET_ENDPOINT": sim.ws_url,
        "KITE_LOGIN_ENDPOINT": sim.api_url,
        "KITE_REQUEST_TIMEOUT": "30",  # the caller gives up long before: the attempt is in flight when killed
        "KITE_GATEWAY_SECRET_KEY": key.decode(),
    }
    proc = GatewayProcess(tmp_path, env=env)
    await asyncio.to_thread(proc.wait_serving)  # the simulator keeps serving on this loop meanwhile
    return proc


async def request_token(sim: Simulator, user_id: str) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.login_url()}&user_id={user_id}", allow_redirects=False) as reply,
    ):
        return parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]


async def test_a_gateway_killed_with_an_order_in_flight_neither_loses_nor_repeats_it(
    tmp_path: Path, live_sim: Simulator
) -> None:
    key = Sealer.generate_key()
    first = await start_gateway(tmp_path, live_sim, key)
    held = live_sim.faults.add(Fault("POST", "/orders/*", "hold"))
    request = order_pb2.PlaceOrderRequest(account_id="ZS0001", client_order_id="crash-1", params=market_buy())
    try:
        async with grpc.aio.insecure_channel(first.address) as channel:
            await account_pb2_grpc.AccountServiceStub(channel).CompleteLogin(
                account_pb2.CompleteLoginRequest(
                    api_key="sim_api_key",
                    api_secret="sim_api_secret",
                    request_token=await request_token(live_sim, "ZS0001"),
                )
            )
            with pytest.raises(grpc.aio.AioRpcError):  # the caller gives up; the attempt is still held
                await order_pb2_grpc.OrderServiceStub(channel).PlaceOrder(request, timeout=1.0)
        await eventually(lambda: held.held == 1, "the attempt reached Kite's door")
    finally:
        first.proc.kill()  # SIGKILL: no shutdown, no outcome written
        await asyncio.to_thread(first.stop)

    second = await start_gateway(tmp_path, live_sim, key)
    try:
        async with grpc.aio.insecure_channel(second.address) as channel:
            orders = order_pb2_grpc.OrderServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await orders.PlaceOrder(request, timeout=20)
            assert status_of(caught.value)[:2] == (grpc.StatusCode.UNAVAILABLE, "ORDER_OUTCOME_UNKNOWN")
            tag = kite_tag("ZS0001", "crash-1")
            assert held.held == 1 and not [o for o in live_sim.engine.orders_json("ZS0001") if o["tag"] == tag]
            held.release()
            await eventually(lambda: held.delivered == 1, "the held attempt reached Kite")
            reply = await orders.PlaceOrder(request, timeout=20)
            at_kite = [o["order_id"] for o in live_sim.engine.orders_json("ZS0001") if o["tag"] == tag]
            assert reply.replayed and at_kite == [reply.order_id]
    finally:
        await asyncio.to_thread(second.stop)

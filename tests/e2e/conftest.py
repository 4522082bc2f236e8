"""The whole stack: the Kite simulator (manual clock, regular sessions) on a thread and event loop of
its own, the gateway's runtime and gRPC server aimed at it on the test's loop, demo accounts logged
in through Kite's login flow, and stubs on a real loopback channel. Tests reach into the simulator
through kite_simulator.ThreadedSimulator (its `call`, `advance`, `quote`, `faults`, ...)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from google.type.decimal_pb2 import Decimal as Decimal_pb
from kite_gateway_api.v1 import (
    account_pb2_grpc,
    common_pb2,
    market_data_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
    portfolio_pb2_grpc,
    signal_pb2_grpc,
)

from kite_gateway.app import App
from kite_gateway.config import Settings
from kite_gateway.grpc.server import Gateway
from kite_gateway.grpc.status import STATUS_DETAILS_KEY
from kite_gateway.paper import log_in_demo_accounts
from kite_gateway.storage.sealing import Sealer
from kite_simulator import ThreadedSimulator
from tests.simulator.conftest import regular_hours


@dataclass
class Stack:
    sim: ThreadedSimulator
    runtime: App
    gateway: Gateway
    settings: Settings
    accounts: account_pb2_grpc.AccountServiceStub
    orders: order_pb2_grpc.OrderServiceStub
    portfolio: portfolio_pb2_grpc.PortfolioServiceStub
    market: market_data_pb2_grpc.MarketDataServiceStub
    signals: signal_pb2_grpc.SignalServiceStub

    def kite_orders(self, user_id: str = "ZS0001") -> list[dict[str, Any]]:
        """The order book as Kite (the simulator) has it."""
        return self.sim.orders(user_id)


def make_settings(tmp_path: Path, sim: ThreadedSimulator, key: bytes, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "gateway_listen": "127.0.0.1:0",
        "gateway_data_dir": tmp_path / "data",
        "api_endpoint": sim.api_url,
        "websocket_endpoint": sim.ws_url,
        "login_endpoint": sim.api_url,
        "gateway_secret_key": key.decode(),
        "request_timeout": 2.0,
        "max_retries": 2,
    }
    return Settings(**{**values, **overrides})


async def start_stack(
    tmp_path: Path, sim: ThreadedSimulator, key: bytes, login: bool = True, **overrides: Any
) -> Stack:
    settings = make_settings(tmp_path, sim, key, **overrides)
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    runtime = await App.open(settings, now=sim.clock.now)
    gateway = Gateway(settings, runtime.servicers())
    await gateway.start()
    if login:
        await log_in_demo_accounts(sim, runtime.accounts)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}")
    return Stack(
        sim,
        runtime,
        gateway,
        settings,
        account_pb2_grpc.AccountServiceStub(channel),
        order_pb2_grpc.OrderServiceStub(channel),
        portfolio_pb2_grpc.PortfolioServiceStub(channel),
        market_data_pb2_grpc.MarketDataServiceStub(channel),
        signal_pb2_grpc.SignalServiceStub(channel),
    )


async def stop_stack(stack: Stack) -> None:
    await stack.gateway.stop(0)
    await stack.runtime.close()


def strategies_file(tmp_path: Path, text: str) -> Path:
    """A strategies file (kite_gateway/core/signals/strategies.py) for
    `start_stack(..., gateway_strategies_file=...)`."""
    path = tmp_path / "strategies.toml"
    path.write_text(text)
    return path


@pytest.fixture
def sealing_key() -> bytes:
    return Sealer.generate_key()


@pytest.fixture
async def sim() -> AsyncIterator[ThreadedSimulator]:
    simulator = ThreadedSimulator(regular_hours(tick_interval=0.05))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def stack(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    running = await start_stack(tmp_path, sim, sealing_key)
    yield running
    await stop_stack(running)


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    """Wait until `condition()` holds (checked every few milliseconds), failing after `seconds`:
    for state another task reaches, never as a fixed sleep."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.005)


def pass_the_quarantine(stack: Stack) -> None:
    """Move Kite's (and the gateway's) clock past the quarantine of an attempt sent now."""
    stack.sim.advance_clock(stack.settings.request_timeout + stack.settings.gateway_order_quarantine + 1)


def status_of(error: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str, dict[str, str], list[tuple[str, str]]]:
    """(code, ErrorInfo reason, ErrorInfo metadata, BadRequest violations) of a failed call."""
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    reason, metadata, violations = "", {}, []
    if raw:
        status = status_pb2.Status.FromString(raw)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = [(v.field, v.description) for v in bad.field_violations]
    return error.code(), reason, metadata, violations


def market_buy(symbol: str = "NSE:INFY", quantity: int = 1, **fields: Any) -> order_pb2.OrderParams:
    params = order_pb2.OrderParams(
        instrument=common_pb2.InstrumentRef(symbol=symbol),
        transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
        variety=common_pb2.VARIETY_REGULAR,
        order_type=common_pb2.ORDER_TYPE_MARKET,
        product=common_pb2.PRODUCT_CNC,
        quantity=quantity,
    )
    for name, value in fields.items():
        if isinstance(value, Decimal_pb):
            getattr(params, name).CopyFrom(value)
        else:
            setattr(params, name, value)
    return params

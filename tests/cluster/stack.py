"""Replicas of the clustered mode in one process: each a whole gateway (App, gRPC server with its
forwarding) over one real PostgreSQL database, one real NATS server and one Kite simulator, composed as `serve` composes
them, with the lease keeper's rounds driven by the test (no loop: `await replica.round()`), and the
replica's monotonic clock movable (`replica.jump(seconds)`: it was paused, or its clock jumped)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from kite_gateway_api.v1 import account_pb2_grpc, order_pb2_grpc

from kite_gateway.app import App, _forwarding
from kite_gateway.grpc.server import Gateway
from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import make_settings

SECRET = "cluster-secret-for-the-adversary-0123456789"


@dataclass
class Skew:
    """A monotonic clock `offset` seconds ahead of the real one."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@dataclass
class Replica:
    name: str
    runtime: App
    gateway: Gateway
    channel: grpc.aio.Channel
    clock: Skew = field(default_factory=Skew)

    @property
    def orders(self) -> order_pb2_grpc.OrderServiceStub:
        return order_pb2_grpc.OrderServiceStub(self.channel)

    @property
    def accounts(self) -> account_pb2_grpc.AccountServiceStub:
        return account_pb2_grpc.AccountServiceStub(self.channel)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gateway.port}"

    async def round(self) -> None:
        assert self.runtime.membership is not None
        await self.runtime.membership.keeper.round()

    def held(self) -> list[str]:
        assert self.runtime.membership is not None
        return self.runtime.membership.keeper.held()

    def jump(self, seconds: float) -> None:
        """This replica's monotonic clock moves on by `seconds` (a pause, as the process sees it after)."""
        self.clock.offset += seconds

    async def stop(self) -> None:
        await self.gateway.stop(0)
        await self.channel.close()
        await self.runtime.close()


async def start_replica(
    tmp_path: Path,
    sim: ThreadedSimulator,
    key: bytes,
    database_url: str,
    nats_url: str,
    name: str,
    wall_clock_ahead: float = 0.0,
    **overrides: Any,
) -> Replica:
    """A replica; `wall_clock_ahead`: its wall clock runs that many seconds ahead of Kite's (and of
    the other replicas')."""
    settings = make_settings(
        tmp_path / name,
        sim,
        key,
        gateway_database_url=database_url,
        gateway_nats_url=nats_url,
        gateway_cluster_secret=SECRET,
        gateway_replica_id=name,
        **overrides,
    )
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    ahead = timedelta(seconds=wall_clock_ahead)
    runtime = await App.open(settings, now=lambda: sim.clock.now() + ahead)
    forwarding = _forwarding(settings, runtime.membership)
    gateway = Gateway(settings, runtime.servicers(), forwarding=forwarding)
    await gateway.start()
    assert runtime.membership is not None
    clock = Skew()
    runtime.membership.keeper._monotonic = clock
    runtime.membership.keeper.address = f"127.0.0.1:{gateway.port}"
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}")
    return Replica(name, runtime, gateway, channel, clock)


async def sql(database_url: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    """One statement on the shared database, as an operator (or another process) would run it."""
    connection = await asyncpg.connect(database_url)
    try:
        return list(await connection.fetch(statement, *args))
    finally:
        await connection.close()


async def expire(database_url: str, replica: str) -> None:
    """`replica`'s leases and its own row run out now by the database's clock (it was paused past them)."""
    await sql(database_url, "UPDATE leases SET expires_ms = 0 WHERE owner = $1", replica)
    await sql(database_url, "UPDATE replicas SET expires_ms = 0 WHERE replica_id = $1", replica)


async def until(condition: Callable[[], Any], what: str, seconds: float = 15.0) -> None:
    """Poll an async or plain condition until it holds (never a fixed sleep)."""
    import asyncio
    import inspect

    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)

"""Fixtures of the clustered mode's tests: real NATS servers (tests/support/nats.py), and three
replicas as processes (tests/support/cluster.py) over a real PostgreSQL database, in front of one
Kite simulator on the real clock; the helpers the fault tests share (who owns what, placing with
the client's retry policy, what Kite holds)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp
import asyncpg
import grpc
import pytest
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, order_pb2, order_pb2_grpc

from kite_gateway.storage.idempotency import kite_tag
from kite_gateway.storage.sealing import Sealer
from kite_simulator import DemoUser, Simulator, SimulatorConfig
from kite_simulator.sessions import App as KiteApp
from tests.e2e.conftest import market_buy
from tests.support.cluster import Cluster, Replica
from tests.support.nats import NatsServer
from tests.support.postgres import PostgresServer

APPS = {"ZS0001": "app_one", "ZS0002": "app_two", "ZS0003": "app_three"}
LEASE_TTL = 2.0


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """One server for the session's tests that do not stop it (KITE_GATEWAY_TEST_NATS_URL's, if set)."""
    with NatsServer() as server:
        yield server


@pytest.fixture
def own_nats() -> Iterator[NatsServer]:
    """A server of the test's own, which it may stop, restart or kill (always started here)."""
    with NatsServer(use_env=False) as server:
        yield server


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, which it may stop, restart or kill (always started here)."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
async def live_sim() -> AsyncIterator[Simulator]:
    """A simulator on the real clock with one Kite app per user (so each account is its own lease)."""
    users = (
        DemoUser("ZS0001", "One", equity_balance=Decimal(10_000_000)),
        DemoUser("ZS0002", "Two", equity_balance=Decimal(10_000_000)),
        DemoUser("ZS0003", "Three", equity_balance=Decimal(10_000_000)),
    )
    apps = tuple(KiteApp(key, f"{key}_secret", 2000 + i) for i, key in enumerate(APPS.values()))
    simulator = Simulator(SimulatorConfig(users=users, extra_apps=apps, rate_limit_scale=None))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)


@contextlib.asynccontextmanager
async def running_cluster(directory: Path, sim: Simulator, database_url: str, nats_url: str) -> AsyncIterator[Cluster]:
    """Three replicas started, every user logged in, every lease taken; stopped on leaving."""
    running = Cluster(
        directory,
        sim.api_url,
        sim.ws_url,
        database_url,
        nats_url,
        Sealer.generate_key().decode(),
        lease_ttl=LEASE_TTL,
    )
    await asyncio.to_thread(running.start)
    try:
        await log_in_every_user(sim, running)
        await wait_for_owners(database_url, len(APPS))
        yield running
    finally:
        await asyncio.to_thread(running.stop)


@pytest.fixture
async def cluster(
    tmp_path: Path, live_sim: Simulator, database_url: str, nats_server: NatsServer
) -> AsyncIterator[Cluster]:
    async with running_cluster(tmp_path, live_sim, database_url, nats_server.url) as running:
        yield running


async def log_in_every_user(sim: Simulator, cluster: Cluster) -> None:
    async with grpc.aio.insecure_channel(cluster.replicas[0].address) as channel:
        accounts = account_pb2_grpc.AccountServiceStub(channel)
        for user_id, api_key in APPS.items():
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{sim.login_url(api_key)}&user_id={user_id}", allow_redirects=False) as reply,
            ):
                token = parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]
            await accounts.CompleteLogin(
                account_pb2.CompleteLoginRequest(api_key=api_key, api_secret=f"{api_key}_secret", request_token=token)
            )


async def owners(database_url: str) -> dict[str, str]:
    """Live leases as the database has them: api_key -> replica."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT lease_key, owner FROM leases "
            "WHERE expires_ms > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
        )
    finally:
        await connection.close()
    return {row["lease_key"]: row["owner"] for row in rows}


async def wait_for_owners(database_url: str, count: int, seconds: float = 30.0) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while True:
        held = await owners(database_url)
        if len(held) == count:
            return held
        if time.monotonic() > deadline:
            raise AssertionError(f"only {held} of {count} leases were taken within {seconds}s")
        await asyncio.sleep(0.1)


async def place_with_retries(
    orders: order_pb2_grpc.OrderServiceStub, account_id: str, client_order_id: str, seconds: float = 30.0
) -> str:
    """The client's retry policy: UNAVAILABLE (and a deadline) is retried with the same
    client_order_id, on whichever replica the channel picks, until it is placed."""
    request = order_pb2.PlaceOrderRequest(account_id=account_id, client_order_id=client_order_id, params=market_buy())
    deadline = time.monotonic() + seconds
    while True:
        try:
            reply = await orders.PlaceOrder(request, timeout=5)
            return str(reply.order_id)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise AssertionError(f"{client_order_id}: {exc.code().name} {exc.details()}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{client_order_id} was not placed within {seconds}s: {exc.details()}") from None
            await asyncio.sleep(0.2)


async def eventually(condition: Callable[[], bool], what: Callable[[], str], within: float = 30.0) -> None:
    """Poll `condition` until it holds; AssertionError saying `what()` when it does not within `within` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what()}")
        await asyncio.sleep(0.05)


def round_robin(cluster: Cluster) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(cluster.target, options=[("grpc.lb_policy_name", "round_robin")])


def replica_named(cluster: Cluster, name: str) -> Replica:
    return next(r for r in cluster.replicas if r.name == name)


def orders_at_kite(sim: Simulator, account_id: str, client_order_ids: list[str]) -> dict[str, list[str]]:
    by_tag = {kite_tag(account_id, c): c for c in client_order_ids}
    found: dict[str, list[str]] = {c: [] for c in client_order_ids}
    for order in sim.engine.orders_json(account_id):
        if order["tag"] in by_tag:
            found[by_tag[order["tag"]]].append(order["order_id"])
    return found

"""Three replicas in the clustered mode, as processes, over real PostgreSQL and NATS servers and one
Kite simulator: the faults a cluster meets in production, each injected for real.

- The owner of an account is killed (SIGKILL) in the middle of a burst of PlaceOrders: another
  replica takes its lease within the bound, and every client_order_id, retried on any replica,
  has exactly one order at Kite.
- An owner paused (SIGSTOP) past its lease and then resumed cannot write: its attempts are fenced
  out, and nothing is placed twice.
- A rolling restart of every replica under steady load fails no call of a caller that retries
  UNAVAILABLE as the client's retry policy does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
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
from tests.support.postgres import PostgresServer

APPS = {"ZS0001": "app_one", "ZS0002": "app_two", "ZS0003": "app_three"}
LEASE_TTL = 2.0
FAILOVER_BOUND = 10.0  # seconds from SIGKILL to the first order accepted for a moved account


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


@pytest.fixture
async def cluster(
    tmp_path: Path, live_sim: Simulator, database_url: str, nats_server: object
) -> AsyncIterator[Cluster]:
    running = Cluster(
        tmp_path,
        live_sim.api_url,
        live_sim.ws_url,
        database_url,
        nats_server.url,  # type: ignore[attr-defined]
        Sealer.generate_key().decode(),
        lease_ttl=LEASE_TTL,
    )
    await asyncio.to_thread(running.start)
    try:
        await log_in_every_user(live_sim, running)
        await wait_for_owners(database_url, len(APPS))
        yield running
    finally:
        await asyncio.to_thread(running.stop)


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


async def test_killing_an_accounts_owner_mid_burst_moves_it_in_bounded_time_and_places_each_order_once(
    cluster: Cluster, live_sim: Simulator, database_url: str
) -> None:
    held = await owners(database_url)
    victim = replica_named(cluster, held["app_one"])
    ids = [f"burst-{i}" for i in range(30)]
    async with round_robin(cluster) as channel:
        orders = order_pb2_grpc.OrderServiceStub(channel)
        first = await asyncio.gather(*(place_with_retries(orders, "ZS0001", c) for c in ids[:10]))
        burst = [asyncio.create_task(place_with_retries(orders, "ZS0001", c)) for c in ids[10:]]
        await asyncio.sleep(0)  # the burst is on its way when the owner dies
        await asyncio.to_thread(victim.kill)
        killed_at = time.monotonic()
        after = await place_with_retries(orders, "ZS0001", "after-kill")
        failover = time.monotonic() - killed_at
        rest = await asyncio.gather(*burst)
    placed = dict(zip(ids, [*first, *rest], strict=True))
    at_kite = orders_at_kite(live_sim, "ZS0001", [*ids, "after-kill"])
    assert {c: len(found) for c, found in at_kite.items() if len(found) != 1} == {}, cluster.logs()
    assert all(at_kite[c] == [placed[c]] for c in ids) and at_kite["after-kill"] == [after]
    assert failover < FAILOVER_BOUND, f"failover took {failover:.1f}s"
    moved = await wait_for_owners(database_url, len(APPS))
    assert moved["app_one"] != victim.name


async def test_an_owner_paused_past_its_lease_is_fenced_out_on_resume_and_places_nothing_twice(
    cluster: Cluster, live_sim: Simulator, database_url: str
) -> None:
    held = await owners(database_url)
    paused = replica_named(cluster, held["app_two"])
    async with grpc.aio.insecure_channel(paused.address) as direct, round_robin(cluster) as channel:
        stale = order_pb2_grpc.OrderServiceStub(direct)
        orders = order_pb2_grpc.OrderServiceStub(channel)
        await place_with_retries(orders, "ZS0002", "before-pause")
        request = order_pb2.PlaceOrderRequest(account_id="ZS0002", client_order_id="during-pause", params=market_buy())
        await asyncio.to_thread(paused.pause)
        try:
            # Sent to the paused owner: its kernel accepts the call, the process cannot answer yet.
            stale_call = stale.PlaceOrder(request, timeout=60)
            deadline = time.monotonic() + LEASE_TTL * 5
            while (await owners(database_url)).get("app_two") in (None, paused.name):
                assert time.monotonic() < deadline, "nobody took the paused replica's lease"
                await asyncio.sleep(0.1)
            placed = await place_with_retries(orders, "ZS0002", "during-pause")  # the caller retried elsewhere
        finally:
            await asyncio.to_thread(paused.resume)
        try:
            reply = await stale_call
            assert reply.order_id == placed and reply.replayed  # answered by the new owner's record
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc.details()
        again = await place_with_retries(orders, "ZS0002", "during-pause")
    assert again == placed
    at_kite = orders_at_kite(live_sim, "ZS0002", ["before-pause", "during-pause"])
    assert at_kite == {"before-pause": at_kite["before-pause"], "during-pause": [placed]}
    assert len(at_kite["before-pause"]) == 1


async def test_a_rolling_restart_of_every_replica_fails_no_call_of_a_retrying_caller(
    cluster: Cluster, live_sim: Simulator
) -> None:
    placed: list[str] = []
    stop = asyncio.Event()

    async def steady_load() -> None:
        async with round_robin(cluster) as channel:
            orders = order_pb2_grpc.OrderServiceStub(channel)
            index = 0
            while not stop.is_set():
                account = list(APPS)[index % len(APPS)]
                placed.append(await place_with_retries(orders, account, f"steady-{index}"))
                index += 1

    load = asyncio.create_task(steady_load())
    for replica in cluster.replicas:
        await asyncio.to_thread(cluster.restart, replica)
    stop.set()
    await load  # any call that failed for good raised in place_with_retries
    assert len(placed) == len(set(placed)) > 0
    for index, account in enumerate(APPS):
        ids = [f"steady-{i}" for i in range(index, len(placed), len(APPS))]
        assert all(len(found) == 1 for found in orders_at_kite(live_sim, account, ids).values())

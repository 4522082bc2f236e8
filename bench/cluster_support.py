"""What the clustered-mode benchmarks share: a Kite simulator in a child process with one Kite app
per user (so that each account is its own lease, as in tests/cluster/test_failover.py), real
PostgreSQL and NATS servers (tests/support), a cluster of `kite-gateway serve` replicas
(tests/support/cluster.py) or one embedded gateway (SQLite, no NATS), logins, lease owners as the
database has them, CPU time of a process, and percentiles.

Run as a script it is the simulator process:

    python bench/cluster_support.py sim --users 3 [--tick-interval 1] [--step-seconds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench scripts import tests.support
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import grpc  # noqa: E402
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, common_pb2, order_pb2  # noqa: E402

from kite_gateway.storage.sealing import Sealer  # noqa: E402
from tests.support.cluster import Cluster, free_port  # noqa: E402
from tests.support.nats import NatsServer  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402

# The gateway's own client-side limits lifted, as in bench/gateway_bench.py: measure work, not throttling.
UNTHROTTLED = {"KITE_RATE_LIMIT_PER_SECOND": "100000", "KITE_BURST_LIMIT": "1000", "KITE_LOG_LEVEL": "WARNING"}
# Kite's per-user order caps, which the gateway paces placements to (10 a second: sequential orders
# would wait about 100 ms each for the pacer), lifted for benchmarks that time PlaceOrder itself.
ORDER_CAPS_OFF = {
    "KITE_GATEWAY_ORDERS_PER_SECOND": "1000",
    "KITE_GATEWAY_ORDERS_PER_MINUTE": "60000",
    "KITE_GATEWAY_ORDERS_PER_DAY": "10000000",
    "KITE_GATEWAY_ORDER_CLOCK_SKEW": "0",
}


@dataclass(frozen=True)
class SimUser:
    user_id: str
    api_key: str
    api_secret: str


@dataclass
class SimProcess:
    proc: subprocess.Popen[str]
    api_url: str
    ws_url: str
    users: list[SimUser]

    def login_url(self, user: SimUser) -> str:
        return f"{self.api_url}/connect/login?v=3&api_key={user.api_key}&user_id={user.user_id}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def user_ids(count: int, prefix: str = "ZB") -> list[str]:
    return [f"{prefix}{index:04d}" for index in range(1, count + 1)]


def start_simulator(users: int, tick_interval: float = 1.0, step_seconds: float = 1.0) -> SimProcess:
    """A simulator process (rate limits and order caps off) with `users` users, each with its own app."""
    command = [sys.executable, str(Path(__file__).resolve()), "sim", "--users", str(users)]
    command += ["--tick-interval", str(tick_interval), "--step-seconds", str(step_seconds)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    listed = [SimUser(**u) for u in ready["users"]]
    return SimProcess(proc, ready["api_url"], ready["ws_url"], listed)


def _serve_simulator(users: int, tick_interval: float, step_seconds: float) -> None:
    from kite_simulator import DemoUser, Simulator, SimulatorConfig
    from kite_simulator.sessions import App

    ids = user_ids(users)
    demo = tuple(DemoUser(u, f"Bench {u}", equity_balance=Decimal(1_000_000_000)) for u in ids)
    apps = tuple(App(f"app_{u.lower()}", f"app_{u.lower()}_secret", 5000 + i) for i, u in enumerate(ids))
    config = SimulatorConfig(
        users=demo,
        extra_apps=apps,
        rate_limit_scale=None,
        order_limits=None,
        tick_interval=tick_interval,
        step_seconds=step_seconds,
    )

    async def run() -> None:
        simulator = Simulator(config)
        await simulator.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        listed = [
            {"user_id": u, "api_key": a.api_key, "api_secret": a.api_secret} for u, a in zip(ids, apps, strict=True)
        ]
        print(json.dumps({"api_url": simulator.api_url, "ws_url": simulator.ws_url, "users": listed}), flush=True)
        await stop.wait()
        await simulator.stop()

    asyncio.run(run())


# --- the servers the clustered mode needs ---------------------------------------------------------


@contextmanager
def backing_services() -> Iterator[tuple[PostgresServer, NatsServer]]:
    """A PostgreSQL server and a NATS server on free loopback ports (or the configured ones)."""
    postgres = PostgresServer.from_environment()
    postgres.start()
    try:
        with NatsServer() as nats:
            yield postgres, nats
    finally:
        postgres.cleanup()


def new_cluster(
    directory: Path, sim: SimProcess, database_url: str, nats_url: str, size: int, lease_ttl: float,
    extra_env: dict[str, str] | None = None,
) -> Cluster:  # fmt: skip
    return Cluster(
        directory, sim.api_url, sim.ws_url, database_url, nats_url, Sealer.generate_key().decode(),
        size=size, lease_ttl=lease_ttl, extra_env={**UNTHROTTLED, **(extra_env or {})},
    )  # fmt: skip


@dataclass
class Embedded:
    """One `kite-gateway serve` in the embedded default: SQLite in its data dir, in-process fan-out."""

    proc: subprocess.Popen[bytes]
    address: str
    directory: tempfile.TemporaryDirectory[str]

    @classmethod
    def start(cls, sim: SimProcess, extra_env: dict[str, str] | None = None) -> Embedded:
        directory = tempfile.TemporaryDirectory(prefix="kg-bench-embedded-")
        port = free_port()
        env = {
            **os.environ,
            **UNTHROTTLED,
            "KITE_API_ENDPOINT": sim.api_url,
            "KITE_WEBSOCKET_ENDPOINT": sim.ws_url,
            "KITE_LOGIN_ENDPOINT": sim.api_url,
            "KITE_GATEWAY_SECRET_KEY": Sealer.generate_key().decode(),
            **(extra_env or {}),
        }
        for name in ("KITE_GATEWAY_DATABASE_URL", "KITE_GATEWAY_NATS_URL"):
            env.pop(name, None)
        command = [sys.executable, "-m", "kite_gateway", "serve", "--listen", f"127.0.0.1:{port}"]
        command += ["--data-dir", str(Path(directory.name) / "data"), "--http-listen", f"127.0.0.1:{free_port()}"]
        log = (Path(directory.name) / "gateway.log").open("ab")
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        log.close()
        address = f"127.0.0.1:{port}"
        grpc.channel_ready_future(grpc.insecure_channel(address)).result(timeout=60)
        return cls(proc, address, directory)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.directory.cleanup()


# --- accounts, leases, orders -----------------------------------------------------------------


async def log_in(sim: SimProcess, address: str, users: list[SimUser]) -> None:
    """Each user logs in through its own app (Kite's redirect, then CompleteLogin at `address`)."""
    async with grpc.aio.insecure_channel(address) as channel, aiohttp.ClientSession() as http:
        accounts = account_pb2_grpc.AccountServiceStub(channel)
        for user in users:
            async with http.get(sim.login_url(user), allow_redirects=False) as reply:
                token = parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]
            request = account_pb2.CompleteLoginRequest(
                api_key=user.api_key, api_secret=user.api_secret, request_token=token
            )
            await accounts.CompleteLogin(request, timeout=60)


async def owners(database_url: str) -> dict[str, str]:
    """Live leases as the database has them: api_key -> replica."""
    return {key: owner for key, (owner, _) in (await leases(database_url)).items()}


async def leases(database_url: str) -> dict[str, tuple[str, float]]:
    """Live leases: api_key -> (owner, expiry as a Unix time in seconds, the database's clock)."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT lease_key, owner, expires_ms FROM leases "
            "WHERE expires_ms > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
        )
    finally:
        await connection.close()
    return {row["lease_key"]: (row["owner"], row["expires_ms"] / 1000) for row in rows}


async def wait_for_balance(database_url: str, keys: int, replicas: int, seconds: float = 120.0) -> dict[str, str]:
    """Wait until every key has a live lease and the owners are spread as evenly as the keeper spreads them."""
    deadline = time.monotonic() + seconds
    while True:
        held = await owners(database_url)
        counts = sorted(list(held.values()).count(r) for r in set(held.values()))
        if len(held) == keys and len(counts) == min(keys, replicas) and counts[-1] - counts[0] <= 1:
            return held
        if time.monotonic() > deadline:
            raise RuntimeError(f"leases not balanced within {seconds}s: {held}")
        await asyncio.sleep(0.1)


def market_buy(symbol: str = "NSE:INFY", quantity: int = 1) -> order_pb2.OrderParams:
    return order_pb2.OrderParams(
        instrument=common_pb2.InstrumentRef(symbol=symbol),
        transaction_type=common_pb2.TRANSACTION_TYPE_BUY,
        variety=common_pb2.VARIETY_REGULAR,
        order_type=common_pb2.ORDER_TYPE_MARKET,
        product=common_pb2.PRODUCT_CNC,
        quantity=quantity,
    )


def round_robin(target: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(target, options=[("grpc.lb_policy_name", "round_robin")])


async def instrument_symbols(sim: SimProcess, count: int) -> list[str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.api_url}/instruments", headers={"X-Kite-Version": "3"}) as reply,
    ):
        text = await reply.text()
    rows = [line.split(",") for line in text.splitlines()[1:]]
    return [f"{row[-1]}:{row[2]}" for row in rows if row[-2] != "INDICES"][:count]


# --- measuring --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (from /proc; children not included)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def summary_ms(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": percentile(values, 0.5) * 1000, "p99_ms": percentile(values, 0.99) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser("sim", help="serve a simulator with one app per user; print its URLs as JSON")
    sim.add_argument("--users", type=int, default=3)
    sim.add_argument("--tick-interval", type=float, default=1.0)
    sim.add_argument("--step-seconds", type=float, default=1.0)
    args = parser.parse_args()
    _serve_simulator(args.users, args.tick_interval, args.step_seconds)


if __name__ == "__main__":
    main()
